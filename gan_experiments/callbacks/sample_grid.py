"""Sample grids from a fixed z, saved as ``samples/epoch_XXX.png`` and logged as images."""

from __future__ import annotations

import math

import torch
from lightning import LightningModule, Trainer

from gan_experiments.callbacks.image_logging import EpochImages, Grid


class SampleGrid(EpochImages):
    """Saves the generator's samples for a fixed latent batch before training and after every epoch
    (``EpochImages``), logged as ``samples``.

    Unconditional models: ``num_samples`` images in a square-ish grid. Conditional models (cGAN): one row
    per class, ``per_class`` columns; column j shares the same z in every row, so rows differ only by class.
    ``samples/epoch_000.png`` shows the untrained generator; ``epoch_00k.png`` the one after k epochs.
    """

    config_key = "callbacks.sample_grid"

    def __init__(self, dirpath: str, num_samples: int = 64, per_class: int = 8, every_n_epochs: int = 1, seed: int = 0):
        super().__init__(dirpath, every_n_epochs)
        self.num_samples, self.per_class, self.seed = num_samples, per_class, seed

    def fixed_inputs(self, pl_module: LightningModule) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """The fixed z [N, Z], labels [N] or None, and the number of images per grid row."""
        gen = torch.Generator().manual_seed(self.seed)
        if pl_module.num_classes:
            k = pl_module.num_classes
            z = torch.randn(self.per_class, pl_module.latent_dim, generator=gen).repeat(k, 1)
            return z, torch.arange(k).repeat_interleave(self.per_class), self.per_class
        z = torch.randn(self.num_samples, pl_module.latent_dim, generator=gen)
        return z, None, math.ceil(math.sqrt(self.num_samples))

    def grids(self, trainer: Trainer, pl_module: LightningModule) -> list[Grid]:
        z, labels, nrow = self.fixed_inputs(pl_module)
        return [Grid("", "samples", pl_module.sample(z, labels), nrow)]
