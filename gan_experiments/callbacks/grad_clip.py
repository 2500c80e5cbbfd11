"""Gradient-norm clipping for manually optimized GANs, after AMP unscaling."""

from __future__ import annotations

import torch
from lightning import Callback, LightningModule, Trainer
from torch.optim import Optimizer


class GradientNormClip(Callback):
    """Scale each optimizer's gradients so that their global 2-norm is at most ``max_norm`` (null: off).

    Lightning's ``trainer.gradient_clip_val`` is for automatic optimization only; with manual optimization
    this hook does it at the right moment: ``on_before_optimizer_step`` runs inside ``optimizer.step()``
    after the fp16 loss scaler has unscaled the gradients (PyTorch's AMP recipe: unscale, clip, step), so
    ``max_norm`` is in the units of the true gradients whatever the precision. G's and D's optimizers are
    clipped separately.
    """

    def __init__(self, max_norm: float | None = None):
        if max_norm is not None and max_norm <= 0:
            raise ValueError(f"callbacks.gradient_clipping.max_norm must be > 0 or null, got {max_norm}")
        self.max_norm = max_norm

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer) -> None:
        if self.max_norm is None:
            return
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if params:
            torch.nn.utils.clip_grad_norm_(params, self.max_norm)
