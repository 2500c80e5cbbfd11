"""Any folder of images, searched recursively, as an unconditional dataset."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset
from torchvision.datasets.folder import IMG_EXTENSIONS

from gan_experiments.data.base import DatasetNotFoundError, GANDataModule, random_split_indices
from gan_experiments.data.images import load_rgb
from gan_experiments.data.transforms import resize_center_crop

# torchvision's image extensions, and GIF (its first frame)
IMAGE_EXTENSIONS = (*IMG_EXTENSIONS, ".gif")


def find_images(path: Path) -> list[Path]:
    """Every file under ``path`` (recursively) with an image extension (``IMAGE_EXTENSIONS``)."""
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


class ImageFiles(Dataset):
    """Image files -> (transform(RGB image), 0)."""

    def __init__(self, files: list[Path], transform):
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(load_rgb(self.files[index])), 0


class ImageFolderDataModule(GANDataModule):
    """Images under ``path`` resized (shorter side) and centre-cropped to ``image_size``, in [-1, 1]."""

    def __init__(
        self,
        path: str,
        image_size: int = 64,
        channels: int = 3,
        num_classes: int | None = None,
        batch_size: int = 64,
        num_workers: int = 2,
        val_fraction: float = 0.05,
        split_seed: int = 0,
        hflip: bool = False,
        bad_images: str = "skip",
        check_images: bool = True,
    ):
        super().__init__(batch_size, num_workers, bad_images, check_images)
        self.path, self.image_size, self.channels = Path(path).expanduser(), image_size, channels
        self.val_fraction, self.split_seed, self.hflip = val_fraction, split_seed, hflip
        self.sample_shape = (channels, image_size, image_size)
        self._set_num_classes(0, num_classes)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if not self.path.is_dir():
            raise DatasetNotFoundError(f"data.path={self.path} is not a folder; point it at a folder of images")
        files = self.readable(find_images(self.path), f"data.path={self.path}")
        if len(files) < 2:
            raise DatasetNotFoundError(
                f"data.path={self.path} holds {len(files)} readable image files (searched recursively for "
                f"{', '.join(IMAGE_EXTENSIONS)}); at least 2 are needed"
            )
        train, val = random_split_indices(len(files), self.val_fraction, self.split_seed)
        train_tf = resize_center_crop(self.image_size, self.channels, self.hflip)
        val_tf = resize_center_crop(self.image_size, self.channels)
        self.train_set = Subset(ImageFiles(files, train_tf), train.tolist())
        self.val_set = Subset(ImageFiles(files, val_tf), val.tolist())
