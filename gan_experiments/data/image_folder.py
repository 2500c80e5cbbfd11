"""Any folder of images, searched recursively, as an unconditional dataset."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import Dataset, Subset
from torchvision.datasets.folder import IMG_EXTENSIONS

from gan_experiments.data.base import DatasetNotFoundError, GANDataModule, random_split_indices
from gan_experiments.data.images import SHOWN, load_rgb
from gan_experiments.data.transforms import resize_center_crop

# torchvision's image extensions, and GIF (its first frame)
IMAGE_EXTENSIONS = (*IMG_EXTENSIONS, ".gif")


def find_images(path: Path) -> list[Path]:
    """Every file under ``path`` (recursively, sorted) with an image extension (``IMAGE_EXTENSIONS``).

    Symlinked folders are followed, and each real folder is read once (a symlink cycle does not loop, two
    links to one folder do not count its images twice). Folders that cannot be read are named in one
    warning. Dangling symlinks with an image name are kept, so that the image scan names them."""
    if not path.is_dir():
        return []
    files, errors, seen = [], [], set()
    for folder, subfolders, names in os.walk(path, onerror=errors.append, followlinks=True):
        subfolders.sort()  # a fixed walk order: which link to a shared folder names its files
        info = os.stat(folder)
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            subfolders.clear()
            continue
        seen.add(identity)
        candidates = (Path(folder, name) for name in names if Path(name).suffix.lower() in IMAGE_EXTENSIONS)
        files += [file for file in candidates if file.is_file() or not file.exists()]
    if errors:
        warn_unreadable_folders(path, errors)
    return sorted(files)


def warn_unreadable_folders(path: Path, errors: list[OSError]) -> None:
    """One warning naming the folders under ``path`` that could not be listed, and why."""
    listing = "\n  ".join(f"{err.filename}: {err.strerror or err}" for err in errors[:SHOWN])
    more = f"\n  ... and {len(errors) - SHOWN} more" if len(errors) > SHOWN else ""
    folders = "1 folder" if len(errors) == 1 else f"{len(errors)} folders"
    rank_zero_warn(f"{folders} under {path} cannot be read; their images are left out (make them readable to "
                   f"include them):\n  {listing}{more}")


class ImageFiles(Dataset):
    """Image files -> (transform(RGB image), 0); ``scanned``: they passed the ``data.check_images`` scan."""

    def __init__(self, files: list[Path], transform, scanned: bool = False):
        self.files, self.transform, self.scanned = files, transform, scanned

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(load_rgb(self.files[index], self.scanned)), 0


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
        self.train_set = Subset(ImageFiles(files, train_tf, self.check_images), train.tolist())
        self.val_set = Subset(ImageFiles(files, val_tf, self.check_images), val.tolist())
