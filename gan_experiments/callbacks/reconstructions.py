"""Reconstruction grids of autoencoding models (the VAE): validation images over their reconstructions."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only
from torchvision.utils import save_image

from gan_experiments.callbacks.common import epoch_is_due
from gan_experiments.callbacks.image_logging import log_image_file


class ReconstructionGrid(Callback):
    """``samples/reconstructions_epoch_XXX.png`` before training and every ``every_n_epochs``: the first
    ``num_images`` validation images (top row) over ``pl_module.reconstruct`` of them (bottom row); logged
    as ``reconstructions``."""

    def __init__(self, dirpath: str, num_images: int = 8, every_n_epochs: int = 1):
        if num_images < 1 or every_n_epochs < 1:
            raise ValueError("callbacks.reconstructions: num_images and every_n_epochs must be >= 1")
        self.dirpath, self.num_images, self.every_n_epochs = Path(dirpath), num_images, every_n_epochs

    @rank_zero_only
    def save(self, trainer: Trainer, pl_module: LightningModule, epoch: int) -> Path:
        val_set = trainer.datamodule.val_set
        images = torch.stack([val_set[i][0] for i in range(min(self.num_images, len(val_set)))])
        grid = torch.cat([images.float(), pl_module.reconstruct(images).float().cpu()])
        path = self.dirpath / f"reconstructions_epoch_{epoch:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(grid, path, nrow=len(images), normalize=True, value_range=(-1, 1), padding=2)
        log_image_file(trainer, "reconstructions", path)
        return path

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.global_step == 0:  # the untrained model; a resumed run keeps its first grid
            self.save(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if epoch_is_due(trainer, self.every_n_epochs):
            self.save(trainer, pl_module, trainer.current_epoch + 1)
