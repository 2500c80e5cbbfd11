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

A file that is no pair by its shape (under 2 px wide, or halves not between 2:3 and 3:2, e.g. a square
photo) is treated as an unreadable one: the ``data.check_images`` scan lists it and leaves it out (or
stops, by ``data.bad_images``); met without the scan, it stops training with an error naming it.

A named dataset of the pix2pix release (``data.name``) lives under ``<data.root>/<name>/`` and downloads
from the release when internet exists; ``data.path`` points at any folder in the same layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import ConcatDataset, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from gan_experiments.data.image_folder import find_images
from gan_experiments.data.images import BadImageError, load_rgb, unreadable
from gan_experiments.data.translation import TranslationDataModule, has_images

PIX2PIX_DATASETS = ("facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day")
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
DIRECTIONS = ("AtoB", "BtoA")
HALF_ASPECT = (2 / 3, 3 / 2)  # the width / height of each half that a side-by-side pair may have
PAIR_RULE = "a pair is about twice as wide as high: each half between 2:3 and 3:2 (width:height)"
NO_PAIRS_HINT = ("data=paired reads one file per pair, A and B side by side; two folders of separate images "
                 "are the unpaired layout (data=unpaired data.path=DIR with trainA/ trainB/ testA/ testB/)")


def pair_shape_problem(width: int, height: int) -> str | None:
    """Why a ``width`` x ``height`` image cannot hold two images side by side, or None if it can."""
    low, high = HALF_ASPECT
    if width >= 2 and low <= width / 2 / height <= high:
        return None
    return f"{width} x {height} px: not two images side by side"


def not_a_pair(path: Path) -> str | None:
    """Why ``path`` is not a usable side-by-side pair (it does not decode, or its shape), or None."""
    reason = unreadable(path)
    if reason is not None:
        return reason
    with Image.open(path) as image:
        return pair_shape_problem(*image.size)


def split_ab(path: Path, scanned: bool = False) -> tuple[Image.Image, Image.Image]:
    """The (A, B) halves of a side-by-side RGB image: left 0 .. w//2, right w//2 .. w (as the reference);
    ``BadImageError`` naming the file when it does not decode or is no pair by its shape."""
    image = load_rgb(path, scanned)
    w, h = image.size
    problem = pair_shape_problem(w, h)
    if problem is not None:
        raise BadImageError(f"{path} is {problem} ({PAIR_RULE}); remove it, or let data.check_images=true "
                            "(the default) list and leave out every such file before training")
    return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))


def load_pair(path: Path, direction: str, scanned: bool = False) -> tuple[tv_tensors.Image, tv_tensors.Image]:
    """(input, target) halves of one file as uint8 tv_tensors: (A, B) for AtoB, (B, A) for BtoA."""
    a, b = (v2.functional.to_image(half) for half in split_ab(path, scanned))
    return (a, b) if direction == "AtoB" else (b, a)


class PairedImages(Dataset):
    """transform((input, target)) of each side-by-side file: one call, so random crop and flip are shared.
    ``scanned``: the files passed the ``data.check_images`` scan."""

    def __init__(self, files: list[Path], direction: str, transform, scanned: bool = False):
        self.files, self.direction, self.transform, self.scanned = files, direction, transform, scanned

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return self.transform(load_pair(self.files[index], self.direction, self.scanned))


class HalfImages(Dataset):
    """One side of each pair with a constant label: (transform(input), 0) or (transform(target), 1)."""

    def __init__(self, files: list[Path], direction: str, label: int, transform, scanned: bool = False):
        self.files, self.direction, self.label, self.transform = files, direction, label, transform
        self.scanned = scanned

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        return self.transform(load_pair(self.files[index], self.direction, self.scanned)[self.label]), self.label


class PairedDataModule(TranslationDataModule):
    """train/ for training, eval_split/ (or val/) for evaluation; its metrics classifier tells input from
    target."""

    release, datasets, url, archive_verb, kind = "pix2pix", PIX2PIX_DATASETS, PIX2PIX_URL, "extracting", "paired"

    def __init__(self, *args: Any, direction: str = "AtoB", eval_split: str = "test", **kwargs: Any):
        """``direction`` and ``eval_split`` as above; the rest is ``TranslationDataModule``'s (path, name,
        root, image_size, load_size, batch_size, ...)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"data.direction must be AtoB (left -> right half) or BtoA, got {direction!r}")
        super().__init__(*args, **kwargs)
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
        self.files = {split: self.readable(find_images(folder), str(folder), check=not_a_pair,
                                           what=f"cannot be read as side-by-side pairs ({PAIR_RULE})",
                                           hint=NO_PAIRS_HINT)
                      for split, folder in folders.items()}
        scanned = self.check_images
        self.train_set = PairedImages(self.files["train"], self.direction, self.train_transform(), scanned)
        self.val_set = PairedImages(self.files["eval"], self.direction, self.eval_transform(), scanned)

    def classifier_labels(self) -> tuple[int, bool]:
        return 2, False  # the side: input (0) or target (1)

    def classifier_splits(self) -> tuple[Dataset, Dataset]:
        def sides(split: str) -> Dataset:
            tf, files = self.eval_transform(), self.files[split]
            return ConcatDataset([HalfImages(files, self.direction, side, tf, self.check_images) for side in (0, 1)])

        return sides("train"), sides("eval")
