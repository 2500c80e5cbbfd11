"""scikit-learn's bundled handwritten digits (1,797 labelled 8x8 images): the embedded default dataset."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torchvision.transforms.v2 import functional as TF

from gan_experiments.data.base import GANDataModule, InMemoryDataset, random_split_indices


class DigitsDataModule(GANDataModule):
    """Digits 0-9 as [N, channels, image_size, image_size] in [-1, 1] (ink bright), labels [N] in 0..9.

    The 8x8 images (16 grey levels) are resized once, bilinearly, to ``image_size``. The validation split
    is a fixed ``val_fraction`` of the images chosen with ``split_seed``, the same for every run.
    """

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 1,
        num_classes: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.1,
        split_seed: int = 0,
    ):
        super().__init__(batch_size, num_workers)
        if channels not in (1, 3):
            raise ValueError(f"data.channels must be 1 or 3 (grey levels repeated), got {channels!r}")
        self.image_size, self.val_fraction, self.split_seed = image_size, val_fraction, split_seed
        self.sample_shape = (channels, image_size, image_size)
        self._set_num_classes(10, num_classes)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
        images = TF.resize(images, [self.image_size, self.image_size], antialias=True).clamp(0, 1) * 2 - 1
        images = images.expand(-1, self.sample_shape[0], -1, -1).contiguous()
        labels = torch.tensor(digits.target, dtype=torch.long)
        train, val = random_split_indices(len(images), self.val_fraction, self.split_seed)
        self.train_set = InMemoryDataset(images[train], labels[train])
        self.val_set = InMemoryDataset(images[val], labels[val])
