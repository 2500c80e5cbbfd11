"""Send a saved PNG to every logger that shows images (W&B, TensorBoard); others are skipped."""

from __future__ import annotations

from pathlib import Path

from lightning import Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torchvision.io import ImageReadMode, read_image


def log_image_file(trainer: Trainer, key: str, path: Path) -> None:
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=trainer.global_step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, read_image(str(path), ImageReadMode.RGB), trainer.global_step)
