"""Sample panels of image-to-image models: one row per fixed evaluation image, one column per stage."""

from __future__ import annotations

import torch
from lightning import LightningModule, Trainer

from gan_experiments.callbacks.image_logging import EpochImages, Grid
from gan_experiments.data.loaders import make_loader


class TranslationPanels(EpochImages):
    """``samples/<direction>_epoch_XXX.png`` for each direction the model translates, before training
    (epoch 000) and every ``every_n_epochs`` (``EpochImages``): the first ``num_images`` items of the
    evaluation split, rows of the module's ``panel_columns``: input | translation | reconstruction |
    identity (CycleGAN) or input | output | target (pix2pix). Logged to W&B / TensorBoard as
    ``panels/<direction>``."""

    config_key = "callbacks.translation_panels"

    def __init__(self, dirpath: str, num_images: int = 4, every_n_epochs: int = 1):
        if num_images < 1:
            raise ValueError(f"{self.config_key}.num_images must be >= 1, got {num_images}")
        super().__init__(dirpath, every_n_epochs)
        self.num_images = num_images
        self.batch: tuple[torch.Tensor, torch.Tensor] | None = None

    def fixed_batch(self, trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``num_images`` (input [N, C, H, W], target or other domain [N, C, H, W]) of the split."""
        if self.batch is None:
            self.batch = next(iter(make_loader(trainer.datamodule.val_set, self.num_images)))
        return self.batch

    def grids(self, trainer: Trainer, pl_module: LightningModule) -> list[Grid]:
        grids = []
        for direction in pl_module.directions:
            columns = pl_module.panel_columns(self.fixed_batch(trainer), direction)
            images = torch.stack([c.float().cpu() for c in columns], dim=1).flatten(0, 1)  # row-major [N*cols, C, H, W]
            grids.append(Grid(f"{direction}_", f"panels/{direction}", images, len(columns)))
        return grids
