"""Unpaired image translation data in the CycleGAN layout: ``trainA/ trainB/ testA/ testB/``.

As the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix, ``unaligned_dataset.py``): an epoch
is max(|A|, |B|) items; item i pairs A[i mod |A|] with a B image drawn at random (in order for the test
split); images are converted to RGB (horse2zebra has grayscale B images); training images are resized to
``load_size`` (default image_size * 286 / 256), randomly cropped to ``image_size`` and flipped; test images
are resized to ``image_size``. Batches are (A [N, 3, S, S], B [N, 3, S, S]) in [-1, 1].

A named dataset of the CycleGAN release (``data.name``) lives under ``<data.root>/<name>/`` and downloads
from the release when internet exists; ``data.path`` points at any folder in the same layout.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset
from torchvision.datasets.utils import download_and_extract_archive
from torchvision.transforms import v2

from gan_experiments.data.base import DatasetNotFoundError, GANDataModule
from gan_experiments.data.image_folder import find_images
from gan_experiments.data.torchvision_data import default_root
from gan_experiments.data.transforms import to_model_range

CYCLEGAN_DATASETS = (
    "apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo", "ukiyoe2photo",
    "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower",
)
CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
SPLITS = ("trainA", "trainB", "testA", "testB")


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


class UnpairedImages(Dataset):
    """(transform(A[i mod |A|]), transform(B[j])), j random unless ``serial``; length max(|A|, |B|)."""

    def __init__(self, files_a: list[Path], files_b: list[Path], transform, serial: bool = False):
        self.files_a, self.files_b, self.transform, self.serial = files_a, files_b, transform, serial

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    def __getitem__(self, index: int):
        a = self.files_a[index % len(self.files_a)]
        j = index % len(self.files_b) if self.serial else int(torch.randint(len(self.files_b), ()))
        return self.transform(load_rgb(a)), self.transform(load_rgb(self.files_b[j]))


class DomainImages(Dataset):
    """Images of one domain with a constant label: (transform(image), domain)."""

    def __init__(self, files: list[Path], domain: int, transform):
        self.files, self.domain, self.transform = files, domain, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return self.transform(load_rgb(self.files[index])), self.domain


class UnpairedDataModule(GANDataModule):
    """trainA/trainB for training, testA/testB for evaluation; its metrics classifier tells A from B."""

    def __init__(
        self,
        path: str | None = None,
        name: str | None = None,
        root: str | None = None,
        image_size: int = 256,
        load_size: int | None = None,
        channels: int = 3,
        num_classes: int | None = None,
        batch_size: int = 1,
        num_workers: int = 2,
        download: bool = True,
    ):
        super().__init__(batch_size, num_workers)
        if (path is None) == (name is None):
            raise ValueError("give exactly one of data.path (a folder) or data.name (a CycleGAN dataset)")
        if name is not None and name not in CYCLEGAN_DATASETS:
            raise ValueError(f"data.name must be one of {', '.join(CYCLEGAN_DATASETS)}, got {name!r}")
        if channels != 3:
            raise ValueError("unpaired translation data is RGB: data.channels must be 3")
        self.name, self.download = name, download
        self.folder = Path(path).expanduser() if path else Path(root or default_root()).expanduser() / name
        self.image_size, self.load_size = image_size, load_size or round(image_size * 286 / 256)
        if self.load_size < image_size:
            raise ValueError(f"data.load_size={self.load_size} must be >= data.image_size={image_size}")
        self.sample_shape = (3, image_size, image_size)
        self._set_num_classes(0, num_classes)
        self.files: dict[str, list[Path]] = {}

    def train_transform(self) -> v2.Compose:
        return v2.Compose([v2.Resize([self.load_size, self.load_size], interpolation=v2.InterpolationMode.BICUBIC,
                                     antialias=True),
                           v2.RandomCrop(self.image_size), v2.RandomHorizontalFlip(), *to_model_range(3)])

    def eval_transform(self) -> v2.Compose:
        return v2.Compose([v2.Resize([self.image_size, self.image_size], interpolation=v2.InterpolationMode.BICUBIC,
                                     antialias=True), *to_model_range(3)])

    def _missing(self) -> list[str]:
        return [s for s in SPLITS if not (self.folder / s).is_dir() or not find_images(self.folder / s)]

    def prepare_data(self) -> None:
        if not self._missing():
            return
        reason = "it is not a named CycleGAN dataset (data.path)" if self.name is None else "data.download=false"
        if self.name is not None and self.download:
            try:
                download_and_extract_archive(CYCLEGAN_URL.format(name=self.name), str(self.folder.parent))
                if not self._missing():
                    return
                reason = "the downloaded archive lacks them"
            except OSError as err:
                reason = f"the download failed ({err})"
        raise DatasetNotFoundError(
            f"{self.folder} lacks image folders {', '.join(self._missing())} and {reason}. Put the images of "
            f"domain A in trainA/ and testA/ and of domain B in trainB/ and testB/ under {self.folder}"
            + ("" if self.name is None else f", e.g. by unzipping {CYCLEGAN_URL.format(name=self.name)} into "
               f"{self.folder.parent} (or set data.root / $GAN_DATA_DIR)")
        )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.prepare_data()
        self.files = {split: find_images(self.folder / split) for split in SPLITS}
        self.train_set = UnpairedImages(self.files["trainA"], self.files["trainB"], self.train_transform())
        self.val_set = UnpairedImages(self.files["testA"], self.files["testB"], self.eval_transform(), serial=True)

    def domain_set(self, split: str, domain: int) -> Dataset:
        """All images of one domain (0 = A, 1 = B) of ``split`` ("train" or "test"), evaluation transform,
        as (image [3, S, S], domain) in file order."""
        folder = f"{split}{'AB'[domain]}"
        return DomainImages(self.files[folder], domain, self.eval_transform())

    def classifier_labels(self) -> tuple[int, bool]:
        return 2, False  # the domain: A (0) or B (1)

    def classifier_splits(self) -> tuple[Dataset, Dataset]:
        def domains(split: str) -> Dataset:
            return ConcatDataset([self.domain_set(split, 0), self.domain_set(split, 1)])

        return domains("train"), domains("test")
