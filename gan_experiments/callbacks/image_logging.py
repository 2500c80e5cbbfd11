"""Image grids saved as PNG files and sent to the loggers that show images (W&B, TensorBoard).

``EpochImages`` is the base of the epoch image callbacks (sample grids, translation panels,
reconstructions): it decides when (before training and after every ``every_n_epochs``-th and the last
epoch), where (rank 0 only) and how (PNG written atomically, then logged); subclasses say what (``grids``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from torchvision.io import ImageReadMode, read_image
from torchvision.utils import save_image

from gan_experiments.callbacks.common import epoch_is_due
from gan_experiments.io import replace_atomically


def log_image_file(trainer: Trainer, key: str, path: Path) -> None:
    """Send a saved PNG to every logger that shows images (W&B, TensorBoard); others are skipped."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=trainer.global_step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, read_image(str(path), ImageReadMode.RGB), trainer.global_step)


def save_grid(images: torch.Tensor, path: Path, nrow: int) -> Path:
    """Images [N, C, H, W] in [-1, 1] as one PNG grid of ``nrow`` per row (2 px padding), written to
    ``path`` through ``io.replace_atomically``, so a reader never sees half a file."""
    with replace_atomically(path) as out:
        save_image(images.float().cpu(), out, format="png", nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return path


@dataclass
class Grid:
    """One image of an epoch: saved as ``<prefix>epoch_XXX.png``, logged under ``key``; images [N, C, H, W]
    in [-1, 1], ``nrow`` of them per row."""

    prefix: str
    key: str
    images: torch.Tensor
    nrow: int


class EpochImages(Callback):
    """Saves ``grids`` under ``dirpath`` as ``<prefix>epoch_000.png`` before training (the untrained model;
    a resumed run keeps its first one) and ``<prefix>epoch_<k>.png`` after epoch k when k is a multiple of
    ``every_n_epochs`` or the last epoch, on rank 0 only, and logs each to W&B / TensorBoard."""

    config_key = "callbacks"  # the callback's config node, for messages

    def __init__(self, dirpath: str, every_n_epochs: int = 1):
        if every_n_epochs < 1:
            raise ValueError(f"{self.config_key}.every_n_epochs must be >= 1, got {every_n_epochs}")
        self.dirpath, self.every_n_epochs = Path(dirpath), every_n_epochs

    def grids(self, trainer: Trainer, pl_module: LightningModule) -> list[Grid]:
        """What to save this epoch."""
        raise NotImplementedError

    @rank_zero_only
    def save(self, trainer: Trainer, pl_module: LightningModule, epoch: int) -> list[Path]:
        paths = []
        for grid in self.grids(trainer, pl_module):
            path = save_grid(grid.images, self.dirpath / f"{grid.prefix}epoch_{epoch:03d}.png", grid.nrow)
            log_image_file(trainer, grid.key, path)
            paths.append(path)
        return paths

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.global_step == 0:
            self.save(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if epoch_is_due(trainer, self.every_n_epochs):
            self.save(trainer, pl_module, trainer.current_epoch + 1)
