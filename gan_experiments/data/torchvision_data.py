"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision, under ``data.root`` in torchvision's layout.

They download where internet exists; where it does not, ``DatasetNotFoundError`` says where we looked
and how to place the files. The official test split serves as the validation split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset
from torchvision import datasets

from gan_experiments.data.base import DatasetNotFoundError, GANDataModule
from gan_experiments.data.transforms import resize_center_crop


@dataclass(frozen=True)
class _Spec:
    dataset: type
    folder: str  # where torchvision looks, relative to root
    files: str  # what a user must place there
    num_classes: int
    channels: int  # the dataset's own (``data.channels`` may convert)


SPECS = {
    "mnist": _Spec(datasets.MNIST, "MNIST/raw", "train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), "
                   "t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz)", 10, 1),
    "fashion_mnist": _Spec(datasets.FashionMNIST, "FashionMNIST/raw", "the four Fashion-MNIST idx files "
                           "(train-images, train-labels, t10k-images, t10k-labels)", 10, 1),
    "cifar10": _Spec(datasets.CIFAR10, "cifar-10-batches-py", "the extracted cifar-10-python.tar.gz "
                     "(data_batch_1..5, test_batch, batches.meta)", 10, 3),
}


def default_root() -> str:
    """``$GAN_DATA_DIR`` if set, else ``./data``."""
    return os.environ.get("GAN_DATA_DIR", "./data")


class TorchvisionDataModule(GANDataModule):
    """A labelled torchvision dataset as [N, channels, image_size, image_size] in [-1, 1] with labels [N].

    ``channels`` converts between grayscale and RGB when it differs from the dataset's own.
    """

    def __init__(
        self,
        name: str = "mnist",
        root: str | None = None,
        image_size: int = 32,
        channels: int = 1,
        num_classes: int | None = None,
        batch_size: int = 64,
        num_workers: int = 2,
        download: bool = True,
        hflip: bool = False,
        train_subset: int | None = None,
        split_seed: int = 0,
    ):
        super().__init__(batch_size, num_workers)
        if name not in SPECS:
            raise ValueError(f"data.name must be one of {sorted(SPECS)}, got {name!r}")
        self.name, self.spec = name, SPECS[name]
        self.root = Path(root or default_root()).expanduser()
        self.image_size, self.download, self.hflip = image_size, download, hflip
        self.train_subset, self.split_seed = train_subset, split_seed
        self.full_train_set = None
        self.sample_shape = (channels, image_size, image_size)
        self._set_num_classes(self.spec.num_classes, num_classes)

    def _open(self, train: bool, transform=None, download: bool = False):
        return self.spec.dataset(str(self.root), train=train, transform=transform, download=download)

    def prepare_data(self) -> None:
        """Download once (rank 0) when the files are absent; fail with a how-to when that is impossible."""
        try:
            self._open(train=True)
            self._open(train=False)
            return
        except RuntimeError:
            pass
        where = self.root / self.spec.folder
        reason = "data.download=false"
        if self.download:
            try:
                self._open(train=True, download=True)
                self._open(train=False, download=True)
                return
            except (OSError, RuntimeError) as err:
                reason = f"the download failed: {err}"
        raise DatasetNotFoundError(
            f"{self.name} was not found under {where} and {reason}. Place {self.spec.files} in {where}, "
            f"or point data.root (or $GAN_DATA_DIR) at a folder that holds {self.spec.folder}."
        )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        channels = self.sample_shape[0]
        self.full_train_set = self._open(True, resize_center_crop(self.image_size, channels, self.hflip))
        self.train_set = self.full_train_set
        if self.train_subset is not None:  # small-data training: a fixed random subset of the training split
            if not 1 <= self.train_subset <= len(self.full_train_set):
                raise ValueError(f"data.train_subset={self.train_subset} must be in [1, {len(self.full_train_set)}]")
            order = torch.randperm(len(self.full_train_set), generator=torch.Generator().manual_seed(self.split_seed))
            self.train_set = Subset(self.full_train_set, order[: self.train_subset].tolist())
        self.val_set = self._open(False, resize_center_crop(self.image_size, channels))

    def classifier_splits(self) -> tuple[Dataset, Dataset]:
        """The metrics classifier learns from the whole training split, also when GANs train on a subset."""
        return self.full_train_set, self.val_set
