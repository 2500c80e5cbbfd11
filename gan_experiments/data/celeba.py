"""CelebA faces with their 40 binary attributes, in either layout under ``<root>/celeba/``:

- standard (torchvision's): ``img_align_celeba/`` + ``list_attr_celeba.txt`` and the other CelebA text
  files; read by ``torchvision.datasets.CelebA`` (official train/valid splits), which downloads them where
  internet (and Google Drive) allows; 178x218 aligned photos are centre-cropped to 178x178, then resized;
- subset: ``img_align_celeba_64/`` + ``list_attr_celeba_subset.txt`` (pre-cropped 64x64 faces; the
  attribute file in CelebA's format: a count line, 40 names, one row of +1/-1 per image); a fixed
  ``val_fraction`` is held out.

The layout is detected from the files present. Batches are (images [N, 3, S, S] in [-1, 1],
attributes [N, 40] in {0, 1}); CelebA has no classes (``num_classes = 0``: conditional models do not apply).
``train_subset`` = n trains the GAN on a fixed random n of the training images (small-data studies such as
ADA's); the metrics classifier still learns from the whole training split.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset, Subset
from torchvision import datasets
from torchvision.transforms import v2

from gan_experiments.data.base import (
    DatasetFileError,
    DatasetNotFoundError,
    GANDataModule,
    random_split_indices,
)
from gan_experiments.data.capabilities import NamedAttributes
from gan_experiments.data.images import load_rgb
from gan_experiments.data.torchvision_data import default_root
from gan_experiments.data.transforms import to_channels, to_model_range

SUBSET_IMAGES, SUBSET_ATTRS = "img_align_celeba_64", "list_attr_celeba_subset.txt"
STANDARD_IMAGES, STANDARD_ATTRS = "img_align_celeba", "list_attr_celeba.txt"


ATTRIBUTE_VALUES = {"1": 1, "+1": 1, "-1": 0}  # CelebA's text -> the {0, 1} label


def read_attributes(path: Path, expected: int = 40) -> tuple[list[str], list[str], torch.Tensor]:
    """CelebA's attribute file -> (attribute names [40], file names [N], attributes [N, 40] in {0, 1}).

    The format: line 1 the image count, line 2 the ``expected`` attribute names, then one row per image,
    ``<file> v_1 .. v_40`` with each v 1 or -1. Anything else is a ``DatasetFileError`` naming the line."""
    lines = path.read_text().splitlines()

    def error(number: int, problem: str) -> DatasetFileError:
        return DatasetFileError(f"{path}, line {number}: {problem} (CelebA's attribute format: a count line, "
                                f"{expected} attribute names, then one row per image: its file name and "
                                f"{expected} values of 1 or -1)")

    count = lines[0].strip() if lines else ""
    if not count.isdigit():
        raise error(1, f"expected the number of images, got {count!r}")
    names = lines[1].split() if len(lines) > 1 else []
    if len(names) != expected:
        raise error(2, f"{len(names)} attribute names, expected {expected}")
    files, rows = [], []
    for number, line in enumerate(lines[2:], start=3):
        if not line.strip():
            continue
        file, *values = line.split()
        if len(values) != expected:
            raise error(number, f"{file} has {len(values)} values, expected {expected}")
        wrong = next((v for v in values if v not in ATTRIBUTE_VALUES), None)
        if wrong is not None:
            raise error(number, f"{wrong!r} is not an attribute value")
        files.append(file)
        rows.append([ATTRIBUTE_VALUES[v] for v in values])
    if int(count) != len(files):
        raise error(1, f"says {count} images but the file has rows for {len(files)}")
    return names, files, torch.tensor(rows, dtype=torch.long).reshape(-1, expected)


class AttributeImages(Dataset):
    """Image files with attribute vectors: (transform(RGB image), attributes [40])."""

    def __init__(self, folder: Path, files: list[str], attributes: torch.Tensor, transform, scanned: bool = False):
        self.folder, self.files, self.attributes, self.transform = folder, files, attributes, transform
        self.scanned = scanned  # the files passed the data.check_images scan

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return self.transform(load_rgb(self.folder / self.files[index], self.scanned)), self.attributes[index]


class CelebADataModule(GANDataModule, NamedAttributes):
    """CelebA at ``image_size`` (3 channels, or 1 if asked) with 40 attributes as labels."""

    num_attributes = 40

    def __init__(
        self,
        root: str | None = None,
        image_size: int = 64,
        channels: int = 3,
        num_classes: int | None = None,
        batch_size: int = 64,
        num_workers: int = 2,
        val_fraction: float = 0.05,
        split_seed: int = 0,
        download: bool = True,
        hflip: bool = False,
        bad_images: str = "skip",
        check_images: bool = True,
        train_subset: int | None = None,
    ):
        super().__init__(batch_size, num_workers, bad_images, check_images)
        self.train_subset, self.full_train_set = train_subset, None
        self.root = Path(root or default_root()).expanduser()
        self.image_size, self.channels, self.download, self.hflip = image_size, channels, download, hflip
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.sample_shape = (channels, image_size, image_size)
        self._set_num_classes(0, num_classes)
        self.attribute_names: list[str] = []

    def classifier_labels(self) -> tuple[int, bool]:
        return self.num_attributes, True

    @property
    def folder(self) -> Path:
        return self.root / "celeba"

    def layout(self) -> str:
        if (self.folder / SUBSET_IMAGES).is_dir() and (self.folder / SUBSET_ATTRS).is_file():
            return "subset"
        if (self.folder / STANDARD_IMAGES).is_dir() and (self.folder / STANDARD_ATTRS).is_file():
            return "standard"
        return "missing"

    def transform(self, train: bool, crop: int | None) -> v2.Compose:
        steps = [to_channels(self.channels)] + ([v2.CenterCrop(crop)] if crop else [])
        steps += [v2.Resize(self.image_size, antialias=True), v2.CenterCrop(self.image_size)]
        if train and self.hflip:
            steps.append(v2.RandomHorizontalFlip())
        return v2.Compose(steps + to_model_range(self.channels))

    def prepare_data(self) -> None:
        if self.layout() != "missing":
            return
        reason = "data.download=false"
        if self.download:
            try:
                datasets.CelebA(str(self.root), split="valid", download=True)
                return
            except Exception as err:  # Google Drive quota and network failures come in many types
                reason = f"the download failed ({type(err).__name__}: {err})"
        raise DatasetNotFoundError(
            f"CelebA was not found under {self.folder} and {reason}. Place either {STANDARD_IMAGES}/ with "
            f"{STANDARD_ATTRS} and CelebA's other text files (torchvision's layout), or {SUBSET_IMAGES}/ with "
            f"{SUBSET_ATTRS}, in {self.folder}; or point data.root (or $GAN_DATA_DIR) at their parent folder."
        )

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if self.layout() == "subset":
            self.attribute_names, files, attrs = read_attributes(self.folder / SUBSET_ATTRS)
            images = self.folder / SUBSET_IMAGES
            readable = set(self.readable([images / f for f in files], str(images)))
            keep = [i for i, f in enumerate(files) if images / f in readable]
            files, attrs = [files[i] for i in keep], attrs[keep]
            train, val = random_split_indices(len(files), self.val_fraction, self.split_seed)
            scanned = self.check_images
            train_images = AttributeImages(images, files, attrs, self.transform(True, None), scanned)
            val_images = AttributeImages(images, files, attrs, self.transform(False, None), scanned)
            self.train_set, self.val_set = Subset(train_images, train.tolist()), Subset(val_images, val.tolist())
        else:
            self.prepare_data()
            self.train_set = datasets.CelebA(str(self.root), "train", "attr", self.transform(True, 178))
            self.val_set = datasets.CelebA(str(self.root), "valid", "attr", self.transform(False, 178))
            self.attribute_names = list(self.train_set.attr_names[: self.num_attributes])
        self.full_train_set = self.train_set
        if self.train_subset is not None:
            self.train_set = self._subset(self.full_train_set)

    def _subset(self, dataset: Dataset) -> Dataset:
        """A fixed random ``train_subset`` images of ``dataset`` (seeded by ``split_seed``)."""
        if not 1 <= self.train_subset <= len(dataset):
            raise ValueError(f"data.train_subset={self.train_subset} must be in [1, {len(dataset)}] "
                             f"(the training images of {self.folder})")
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(self.split_seed))
        return Subset(dataset, order[: self.train_subset].tolist())

    def classifier_splits(self) -> tuple[Dataset, Dataset]:
        """The metrics (attribute) classifier learns from the whole training split, also with a subset."""
        return self.full_train_set, self.val_set
