"""NaN or Inf losses: stop naming the term and step (default), or skip the optimizer step that would apply them."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.plugins.precision import MixedPrecision
from lightning.pytorch.utilities import rank_zero_warn
from torch.optim import Optimizer

ACTIONS = ("stop", "skip")


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite; the message names the term, the step and the last checkpoint."""


def uses_loss_scaler(trainer: Trainer) -> bool:
    """True under fp16 mixed precision with a ``GradScaler`` (on a GPU, or ``trainer=fp16_cpu``)."""
    plugin = trainer.precision_plugin
    return isinstance(plugin, MixedPrecision) and plugin.scaler is not None and plugin.scaler.is_enabled()


class NonFiniteLossGuard(Callback):
    """``action=stop``: after every training batch, checks each loss term the module returned
    (``train/<name>``); the first NaN or Inf stops training with ``NonFiniteLossError`` naming the term, the
    batch, the optimizer step and the epoch. Checkpoints are written at epoch ends, so ``last.ckpt`` stays
    the last good one; lower the learning rate or try ``trainer.precision=32-true`` and resume from it.

    Under fp16 with a loss scaler, a step whose scaled gradients overflow is normal: the scaler skips it
    and halves its scale (several times at the start of a run, from 65536). The losses stay finite, so
    ``stop`` does not fire, and ``skip`` leaves such steps to the scaler.

    ``action=skip``: before every optimizer step, if any gradient is NaN or Inf, the gradients are dropped
    so the step changes nothing (Adam's moments and step count included), as the fp16 loss scaler does,
    and buffers the batch made non-finite (batch-norm running statistics) get their values from the start
    of the batch back; skipped steps are counted (``train/skipped_steps``). Under DDP the gradients are already all-reduced,
    so every rank skips the same steps. ``max_consecutive_skips`` in a row of one optimizer stop the run as above.
    """

    def __init__(self, dirpath: str | None = None, action: str = "stop", max_consecutive_skips: int = 100):
        if action not in ACTIONS:
            raise ValueError(f"callbacks.nonfinite_guard.action must be one of {', '.join(ACTIONS)}, got {action!r}")
        self.dirpath, self.action, self.max_consecutive_skips = dirpath, action, max_consecutive_skips
        self.skipped = 0
        self.consecutive: dict[int, int] = {}  # per optimizer: a frozen D must not hide behind G's good steps
        self._buffers: dict[str, torch.Tensor] = {}

    def _stop(self, what: str, trainer: Trainer, batch_idx: int | None = None) -> None:
        last = Path(self.dirpath) / "last.ckpt" if self.dirpath else None
        if last is not None and last.is_file():
            where, then = f" ({last} is the last good checkpoint)", ("; then resume with ckpt_path=auto (same "
                                                                      f"hydra.run.dir) or ckpt_path={last}")
        else:
            where, then = " (no checkpoint had been written yet)", "; then start the run again"
        batch = f"batch {batch_idx} of " if batch_idx is not None else ""
        raise NonFiniteLossError(
            f"{what} at {batch}epoch {trainer.current_epoch} (optimizer step {trainer.global_step}); stopping{where}. "
            "Lower the learning rate (model.optimizer_g.lr / model.optimizer_d.lr), use trainer.precision=32-true, "
            f"or skip such steps with callbacks.nonfinite_guard.action=skip{then}")

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer) -> None:
        if self.action != "skip" or uses_loss_scaler(trainer):
            return  # an fp16 loss scaler skips steps with inf/NaN gradients itself and lowers its scale
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        key = id(optimizer)
        if not grads or torch.stack([g.isfinite().all() for g in grads]).all():
            self.consecutive[key] = 0
            return
        optimizer.zero_grad(set_to_none=True)
        self._restore_nonfinite_buffers(pl_module)
        self.skipped += 1
        self.consecutive[key] = self.consecutive.get(key, 0) + 1
        if self.skipped == 1:
            rank_zero_warn(f"non-finite gradients at optimizer step {trainer.global_step}: step skipped "
                           "(callbacks.nonfinite_guard.action=skip); train/skipped_steps counts them")
        if self.consecutive[key] >= self.max_consecutive_skips:
            self._stop(f"{self.consecutive[key]} steps in a row of one optimizer had non-finite gradients", trainer)

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int) -> None:
        if self.action == "skip":  # floating-point buffers are small (norm statistics, w_avg): keep a copy
            self._buffers = {n: b.detach().clone() for n, b in pl_module.named_buffers() if b.is_floating_point()}

    @torch.no_grad()
    def _restore_nonfinite_buffers(self, pl_module: LightningModule) -> None:
        for name, buffer in pl_module.named_buffers():
            if name in self._buffers and not buffer.isfinite().all():
                buffer.copy_(self._buffers[name])

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        if self.action == "skip":
            pl_module.log("train/skipped_steps", float(self.skipped), on_step=False, on_epoch=True, reduce_fx="max")
            return
        if not isinstance(outputs, dict):
            return
        for name, value in outputs.items():
            number = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(number):
                self._stop(f"train/{name} became {number}", trainer, batch_idx)

    def state_dict(self) -> dict:
        return {"skipped": self.skipped}

    def load_state_dict(self, state: dict) -> None:
        self.skipped = state.get("skipped", 0)
