"""Checkpoint and stop on a preemption signal (SIGTERM, SIGUSR1, SIGUSR2), so a requeued job loses nothing."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.exceptions import SIGTERMException

SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


class PreemptionCheckpoint(Callback):
    """On SIGTERM, SIGUSR1 or SIGUSR2, finish the current batch, write ``<dirpath>/<filename>.ckpt`` and stop.

    Clusters send these before killing a job: SLURM ``--signal=USR1@90`` or submitit's USR2 before the
    time limit, SIGTERM on preemption or ``scancel``. Under DDP the ranks agree on the signal (the largest
    number any rank received) at the end of each batch, so all of them save and stop together. The process
    then exits with status 128 + the signal's number (143 for SIGTERM), as a process killed by it would. A handler that was installed before ours for the
    SIGUSR signals (submitit's or Lightning's SLURM requeue) still runs after the checkpoint is written:
    that is what requeues the job. ``python train.py ckpt_path=auto`` in the same run directory continues
    from the newest checkpoint, including this one (the interrupted epoch goes on with its unseen batches).
    """

    def __init__(self, dirpath: str | Path, filename: str = "preempted"):
        self.path = Path(dirpath) / f"{filename}.ckpt"
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.received = None
        if threading.current_thread() is threading.main_thread():  # signal handlers live in the main thread
            self._previous = {sig: signal.signal(sig, self._note) for sig in SIGNALS}

    def _note(self, signum: int, frame) -> None:
        self.received = signum

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx: int) -> None:
        signum = self.received or 0
        if trainer.world_size > 1:  # every rank acts on the same signal, also those that did not receive it
            signum = int(trainer.strategy.reduce(torch.tensor(float(signum), device=pl_module.device), reduce_op="max"))
        if not signum:
            return
        trainer.save_checkpoint(self.path)
        rank_zero_info(f"received {signal.Signals(signum).name}: saved {self.path} at step {trainer.global_step}; "
                       f"continue with `python train.py ckpt_path=auto hydra.run.dir=<this run's directory>`")
        previous = self._previous.get(signum)
        self._restore_handlers()
        if signum in (signal.SIGUSR1, signal.SIGUSR2) and callable(previous):
            previous(signum, None)  # a cluster's requeue handler, on every rank (it may exit here)
        raise SIGTERMException(128 + signum)  # the shell's status for "stopped by this signal": not a success

    def _restore_handlers(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """The run completed: its preemption checkpoint is stale and must not win a later ``ckpt_path=auto``."""
        self._restore_handlers()
        if trainer.is_global_zero:
            self.path.unlink(missing_ok=True)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._restore_handlers()
