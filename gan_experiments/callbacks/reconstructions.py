"""Reconstruction grids of autoencoding models (the VAE): validation images over their reconstructions."""

from __future__ import annotations

import torch
from lightning import LightningModule, Trainer

from gan_experiments.callbacks.image_logging import EpochImages, Grid


class ReconstructionGrid(EpochImages):
    """``samples/reconstructions_epoch_XXX.png`` before training and every ``every_n_epochs``
    (``EpochImages``): the first ``num_images`` validation images (top row) over ``pl_module.reconstruct``
    of them (bottom row); logged as ``reconstructions``."""

    config_key = "callbacks.reconstructions"

    def __init__(self, dirpath: str, num_images: int = 8, every_n_epochs: int = 1):
        if num_images < 1:
            raise ValueError(f"{self.config_key}.num_images must be >= 1, got {num_images}")
        super().__init__(dirpath, every_n_epochs)
        self.num_images = num_images

    def grids(self, trainer: Trainer, pl_module: LightningModule) -> list[Grid]:
        val_set = trainer.datamodule.val_set
        images = torch.stack([val_set[i][0] for i in range(min(self.num_images, len(val_set)))])
        grid = torch.cat([images.float(), pl_module.reconstruct(images).float().cpu()])
        return [Grid("reconstructions_", "reconstructions", grid, len(images))]
