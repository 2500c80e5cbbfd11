"""Sample grids from a fixed z, saved as ``samples/epoch_XXX.png`` and logged as images."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only
from torchvision.utils import save_image

from gan_experiments.callbacks.common import epoch_is_due
from gan_experiments.callbacks.image_logging import log_image_file


class SampleGrid(Callback):
    """Saves the generator's samples for a fixed latent batch before training and after every epoch.

    Unconditional models: ``num_samples`` images in a square-ish grid. Conditional models (cGAN): one row
    per class, ``per_class`` columns; column j shares the same z in every row, so rows differ only by class.
    ``samples/epoch_000.png`` shows the untrained generator; ``epoch_00k.png`` the one after k epochs.
    """

    def __init__(self, dirpath: str, num_samples: int = 64, per_class: int = 8, every_n_epochs: int = 1, seed: int = 0):
        self.dirpath, self.num_samples, self.per_class = Path(dirpath), num_samples, per_class
        self.every_n_epochs, self.seed = every_n_epochs, seed

    def fixed_inputs(self, pl_module: LightningModule) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """The fixed z [N, Z], labels [N] or None, and the number of images per grid row."""
        gen = torch.Generator().manual_seed(self.seed)
        if pl_module.num_classes:
            k = pl_module.num_classes
            z = torch.randn(self.per_class, pl_module.latent_dim, generator=gen).repeat(k, 1)
            return z, torch.arange(k).repeat_interleave(self.per_class), self.per_class
        z = torch.randn(self.num_samples, pl_module.latent_dim, generator=gen)
        return z, None, math.ceil(math.sqrt(self.num_samples))

    @rank_zero_only
    def save(self, trainer: Trainer, pl_module: LightningModule, epoch: int) -> Path:
        z, labels, nrow = self.fixed_inputs(pl_module)
        images = pl_module.sample(z, labels).float()
        path = self.dirpath / f"epoch_{epoch:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(images, path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        log_image_file(trainer, "samples", path)
        return path

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.global_step == 0:  # the untrained model; a resumed run keeps its first grid
            self.save(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if epoch_is_due(trainer, self.every_n_epochs):
            self.save(trainer, pl_module, trainer.current_epoch + 1)
