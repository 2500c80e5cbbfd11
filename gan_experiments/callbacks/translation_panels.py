"""Sample panels of image-to-image models: one row per fixed evaluation image, one column per stage."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader
from torchvision.utils import save_image

from gan_experiments.callbacks.common import epoch_is_due
from gan_experiments.callbacks.image_logging import log_image_file


class TranslationPanels(Callback):
    """``samples/<direction>_epoch_XXX.png`` for each direction the model translates, before training
    (epoch 000) and every ``every_n_epochs``: the first ``num_images`` items of the evaluation split, rows
    of the module's ``panel_columns``: input | translation | reconstruction | identity (CycleGAN) or
    input | output | target (pix2pix). Logged to W&B / TensorBoard as ``panels/<direction>``."""

    def __init__(self, dirpath: str, num_images: int = 4, every_n_epochs: int = 1):
        if num_images < 1 or every_n_epochs < 1:
            raise ValueError("callbacks.translation_panels: num_images and every_n_epochs must be >= 1")
        self.dirpath, self.num_images, self.every_n_epochs = Path(dirpath), num_images, every_n_epochs
        self.batch: tuple[torch.Tensor, torch.Tensor] | None = None

    def fixed_batch(self, trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor]:
        if self.batch is None:
            self.batch = next(iter(DataLoader(trainer.datamodule.val_set, batch_size=self.num_images, shuffle=False)))
        return self.batch

    @rank_zero_only
    def save(self, trainer: Trainer, pl_module: LightningModule, epoch: int) -> list[Path]:
        paths = []
        for direction in pl_module.directions:
            columns = pl_module.panel_columns(self.fixed_batch(trainer), direction)
            images = torch.stack([c.float().cpu() for c in columns], dim=1).flatten(0, 1)  # row-major [N*cols, C, H, W]
            path = self.dirpath / f"{direction}_epoch_{epoch:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(images, path, nrow=len(columns), normalize=True, value_range=(-1, 1), padding=2)
            log_image_file(trainer, f"panels/{direction}", path)
            paths.append(path)
        return paths

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.global_step == 0:  # the untrained model; a resumed run keeps its first grid
            self.save(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if epoch_is_due(trainer, self.every_n_epochs):
            self.save(trainer, pl_module, trainer.current_epoch + 1)
