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
from torch.utils.data import ConcatDataset, Dataset

from gan_experiments.data.image_folder import find_images
from gan_experiments.data.images import load_rgb
from gan_experiments.data.translation import TranslationDataModule, has_images

CYCLEGAN_DATASETS = (
    "apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo", "ukiyoe2photo",
    "vangogh2photo", "maps", "cityscapes", "facades", "iphone2dslr_flower",
)
CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
SPLITS = ("trainA", "trainB", "testA", "testB")


class UnpairedImages(Dataset):
    """(transform(A[i mod |A|]), transform(B[j])), j random unless ``serial``; length max(|A|, |B|).
    ``scanned``: the files passed the ``data.check_images`` scan."""

    def __init__(self, files_a: list[Path], files_b: list[Path], transform, serial: bool = False,
                 scanned: bool = False):
        self.files_a, self.files_b, self.transform, self.serial = files_a, files_b, transform, serial
        self.scanned = scanned

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    def __getitem__(self, index: int):
        a = self.files_a[index % len(self.files_a)]
        j = index % len(self.files_b) if self.serial else int(torch.randint(len(self.files_b), ()))
        return self.transform(load_rgb(a, self.scanned)), self.transform(load_rgb(self.files_b[j], self.scanned))


class DomainImages(Dataset):
    """Images of one domain with a constant label: (transform(image), domain)."""

    def __init__(self, files: list[Path], domain: int, transform, scanned: bool = False):
        self.files, self.domain, self.transform, self.scanned = files, domain, transform, scanned

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return self.transform(load_rgb(self.files[index], self.scanned)), self.domain


class UnpairedDataModule(TranslationDataModule):
    """trainA/trainB for training, testA/testB for evaluation; its metrics classifier tells A from B."""

    release, datasets, url, archive_verb, kind = "CycleGAN", CYCLEGAN_DATASETS, CYCLEGAN_URL, "unzipping", "unpaired"

    def _missing(self) -> list[str]:
        return [s for s in SPLITS if not has_images(self.folder / s)]

    def layout_hint(self) -> str:
        return "Put the images of domain A in trainA/ and testA/ and of domain B in trainB/ and testB/"

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.prepare_data()
        self.files = {split: self.readable(find_images(self.folder / split), str(self.folder / split)) for split in SPLITS}
        files, scanned = self.files, self.check_images
        self.train_set = UnpairedImages(files["trainA"], files["trainB"], self.train_transform(), scanned=scanned)
        self.val_set = UnpairedImages(files["testA"], files["testB"], self.eval_transform(), True, scanned)

    def domain_set(self, split: str, domain: int) -> Dataset:
        """All images of one domain (0 = A, 1 = B) of ``split`` ("train" or "test"), evaluation transform,
        as (image [3, S, S], domain) in file order."""
        folder = f"{split}{'AB'[domain]}"
        return DomainImages(self.files[folder], domain, self.eval_transform(), self.check_images)

    def classifier_labels(self) -> tuple[int, bool]:
        return 2, False  # the domain: A (0) or B (1)

    def classifier_splits(self) -> tuple[Dataset, Dataset]:
        def domains(split: str) -> Dataset:
            return ConcatDataset([self.domain_set(split, 0), self.domain_set(split, 1)])

        return domains("train"), domains("test")
