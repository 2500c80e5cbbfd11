"""Small pieces the evaluation and image callbacks share: when to run, rank-0-first set-up, W&B summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from lightning import Trainer
from lightning.pytorch.loggers import WandbLogger

T = TypeVar("T")


def epoch_is_due(trainer: Trainer, every_n_epochs: int) -> bool:
    """True after every ``every_n_epochs``-th epoch and after the last one."""
    done = trainer.current_epoch + 1
    return done % every_n_epochs == 0 or done == trainer.max_epochs


def rank_zero_first(trainer: Trainer, fn: Callable[[], T], name: str) -> T:
    """Run ``fn`` on rank 0 first (it may train a classifier or fill a cache), then on the other ranks."""
    result = fn() if trainer.is_global_zero else None
    trainer.strategy.barrier(name)
    return result if trainer.is_global_zero else fn()


def update_wandb_summary(trainer: Trainer, info: dict) -> None:
    """Put ``info`` (which extractor, how many samples) in the W&B run summary, from rank 0."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and trainer.is_global_zero:
            logger.experiment.summary.update(info)
