"""The resolved run configuration: logged to every logger and stored in every checkpoint."""

from __future__ import annotations

from typing import Any

from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only


class RunConfig(Callback):
    """Logs ``config`` (a plain dict) as hyperparameters when fitting starts and saves it in checkpoints
    under ``checkpoint["config"]``, so that ``evaluate.py ckpt=...`` can rebuild the run's model."""

    def __init__(self, config: dict[str, Any]):
        self.config = config

    @rank_zero_only
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for logger in trainer.loggers:
            logger.log_hyperparams(self.config)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint["config"] = self.config
