"""What the LightningModules share: logging a step's losses (``LossLogging``) and, for the adversarial
modules that optimize by hand, one optimizer step on a loss (``AdversarialModule.optimize``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from lightning import LightningModule
from torch.optim import Optimizer

OptimizerFactory = Callable[[Any], Optimizer]  # a ``_partial_`` optimizer: parameters -> Optimizer


class LossLogging(LightningModule):
    """Base of every model: ``log_losses`` logs a step's scalar losses as ``train/<name>``."""

    # the losses shown on the progress bar
    progress_bar_losses: ClassVar[tuple[str, ...]] = ("d_loss", "g_loss")

    def log_losses(self, losses: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Log each scalar [] of ``losses`` as ``train/<name>``, per step and as the epoch's mean (averaged
        over ranks under DDP); returns ``losses`` unchanged (``training_step``'s result, for callbacks)."""
        sync = self.trainer.world_size > 1
        for name, value in losses.items():
            self.log(f"train/{name}", value.detach(), on_step=True, on_epoch=True,
                     prog_bar=name in self.progress_bar_losses, sync_dist=sync)
        return losses


class AdversarialModule(LossLogging):
    """Base of the modules trained by manual optimization (GANs, InfoGAN, StyleGAN, CycleGAN, pix2pix):
    ``training_step`` calls ``optimize`` once per sub-step (critic, generator, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def optimize(self, opt: Optimizer, losses: Callable[[], dict[str, torch.Tensor]], total: str) -> dict[str, torch.Tensor]:
        """One step of ``opt`` on ``losses()[total]`` (a scalar []): ``toggle_optimizer`` (the other
        optimizers' parameters stop requiring gradients), ``losses()``, ``zero_grad``, ``manual_backward``
        (AMP scaler and DDP aware), ``step``, ``untoggle_optimizer``. Returns the detached terms."""
        self.toggle_optimizer(opt)
        terms = losses()
        opt.zero_grad(set_to_none=True)
        self.manual_backward(terms[total])
        opt.step()
        self.untoggle_optimizer(opt)
        return {name: value.detach() for name, value in terms.items()}
