"""Paired image-to-image data in the pix2pix layout: ``train/ test/`` (or ``val/``) of side-by-side AB images.

Each file holds one pair side by side: A is the left half (columns 0 .. w//2), B the right half (w//2 .. w);
for facades A is the photo and B the label map. ``data.direction`` says which half the generator gets:
AtoB maps A (input) to B (target), BtoA maps B to A (pix2pix trains facades BtoA: label map -> photo).

As the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix, ``aligned_dataset.py``): images are
converted to RGB and split into halves; training halves are resized to ``load_size`` x ``load_size``
(default image_size * 286 / 256), then both get the same random ``image_size`` crop and the same random
horizontal flip; evaluation halves are resized to ``image_size``. Batches are (input [N, 3, S, S],
target [N, 3, S, S]) in [-1, 1]. Training uses ``train/``; evaluation ``data.eval_split`` (``test/``), or
``val/`` where that is absent (cityscapes, maps and edges2* ship only train/ and val/).

A named dataset of the pix2pix release (``data.name``) lives under ``<data.root>/<name>/`` and downloads
from the release when internet exists; ``data.path`` points at any folder in the same layout.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch.utils.data import ConcatDataset, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from gan_experiments.data.image_folder import find_images
from gan_experiments.data.images import load_rgb
from gan_experiments.data.translation import TranslationDataModule, has_images

PIX2PIX_DATASETS = ("facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day")
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
DIRECTIONS = ("AtoB", "BtoA")


def split_ab(path: Path) -> tuple[Image.Image, Image.Image]:
    """The (A, B) halves of a side-by-side RGB image: left 0 .. w//2, right w//2 .. w (as the reference)."""
    image = load_rgb(path)
    w, h = image.size
    if w < 2:
        raise ValueError(f"{path} is {w} px wide: a paired image holds A and B side by side (at least 2 px)")
    return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))


def load_pair(path: Path, direction: str) -> tuple[tv_tensors.Image, tv_tensors.Image]:
    """(input, target) halves of one file as uint8 tv_tensors: (A, B) for AtoB, (B, A) for BtoA."""
    a, b = (v2.functional.to_image(half) for half in split_ab(path))
    return (a, b) if direction == "AtoB" else (b, a)


class PairedImages(Dataset):
    """transform((input, target)) of each side-by-side file: one call, so random crop and flip are shared."""

    def __init__(self, files: list[Path], direction: str, transform):
        self.files, self.direction, self.transform = files, direction, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return self.transform(load_pair(self.files[index], self.direction))


class HalfImages(Dataset):
    """One side of each pair with a constant label: (transform(input), 0) or (transform(target), 1)."""

    def __init__(self, files: list[Path], direction: str, label: int, transform):
        self.files, self.direction, self.label, self.transform = files, direction, label, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return self.transform(load_pair(self.files[index], self.direction)[self.label]), self.label


class PairedDataModule(TranslationDataModule):
    """train/ for training, eval_split/ (or val/) for evaluation; its metrics classifier tells input from
    target."""

    release, datasets, url, archive_verb, kind = "pix2pix", PIX2PIX_DATASETS, PIX2PIX_URL, "extracting", "paired"

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
        bad_images: str = "skip",
        check_images: bool = True,
        direction: str = "AtoB",
        eval_split: str = "test",
    ):
        if direction not in DIRECTIONS:
            raise ValueError(f"data.direction must be AtoB (left -> right half) or BtoA, got {direction!r}")
        super().__init__(path, name, root, image_size, load_size, channels, num_classes, batch_size, num_workers,
                         download, bad_images, check_images)
        self.direction, self.eval_split = direction, eval_split

    def eval_folder(self) -> Path:
        """``<folder>/<eval_split>``, or ``<folder>/val`` when that holds no images."""
        folder = self.folder / self.eval_split
        return folder if has_images(folder) else self.folder / "val"

    def _missing(self) -> list[str]:
        eval_name = self.eval_split if self.eval_split == "val" else f"{self.eval_split} (or val)"
        folders = (("train", self.folder / "train"), (eval_name, self.eval_folder()))
        return [name for name, folder in folders if not has_images(folder)]

    def layout_hint(self) -> str:
        return f"Put the side-by-side AB images (A on the left, B on the right) in train/ and {self.eval_split}/"

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        self.prepare_data()
        folders = {"train": self.folder / "train", "eval": self.eval_folder()}
        self.files = {split: self.readable(find_images(folder), str(folder)) for split, folder in folders.items()}
        self.train_set = PairedImages(self.files["train"], self.direction, self.train_transform())
        self.val_set = PairedImages(self.files["eval"], self.direction, self.eval_transform())

    def classifier_labels(self) -> tuple[int, bool]:
        return 2, False  # the side: input (0) or target (1)

    def classifier_splits(self) -> tuple[Dataset, Dataset]:
        def sides(split: str) -> Dataset:
            tf, files = self.eval_transform(), self.files[split]
            return ConcatDataset([HalfImages(files, self.direction, side, tf) for side in (0, 1)])

        return sides("train"), sides("eval")
