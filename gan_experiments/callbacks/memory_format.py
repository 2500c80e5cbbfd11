"""Channels-last memory format for the convolutional networks (NHWC: oneDNN and cuDNN convolutions run
faster on it, especially in bf16/fp16)."""

from __future__ import annotations

import torch
from lightning import Callback, LightningModule, Trainer


class ChannelsLast(Callback):
    """``enabled``: before training, every 4-D parameter and buffer of the module (convolution weights) is
    stored channels-last (``Module.to(memory_format=torch.channels_last)``); a convolution whose weight is
    channels-last computes in that format and returns channels-last activations, so inputs need no
    conversion. A layout, not a precision: outputs equal the NCHW ones up to the kernels' summation order."""

    def __init__(self, enabled: bool = False):
        self.enabled = enabled

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.enabled:
            pl_module.to(memory_format=torch.channels_last)
