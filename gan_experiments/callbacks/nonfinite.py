"""Stop a run whose losses stop being finite, saying which term and where, before anything is overwritten."""

from __future__ import annotations

import math

from lightning import Callback, LightningModule, Trainer


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite; the message names the term, the step and the last checkpoint."""


class NonFiniteLossGuard(Callback):
    """After every training batch, checks each loss term the module returned (``train/<name>``); the first
    NaN or Inf stops training with ``NonFiniteLossError`` naming the term, the batch, the optimizer step and
    the epoch. Checkpoints are written at epoch ends, so ``last.ckpt`` stays the last good one; lower the
    learning rate or try ``trainer.precision=32-true`` and resume from it."""

    def __init__(self, dirpath: str | None = None):
        self.dirpath = dirpath

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        if not isinstance(outputs, dict):
            return
        for name, value in outputs.items():
            number = float(value.detach().float().mean()) if hasattr(value, "detach") else float(value)
            if not math.isfinite(number):
                where = f" ({self.dirpath}/last.ckpt is the last good checkpoint)" if self.dirpath else ""
                raise NonFiniteLossError(
                    f"train/{name} became {number} at batch {batch_idx} of epoch {trainer.current_epoch} "
                    f"(optimizer step {trainer.global_step}); stopping{where}. Lower the learning rate "
                    "(loss.optimizer_g.lr / loss.optimizer_d.lr) or use trainer.precision=32-true, then resume "
                    "with ckpt_path=")
