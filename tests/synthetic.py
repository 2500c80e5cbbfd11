"""Small synthetic datasets written by the tests themselves, so that a fresh clone without ../shared/data
trains and evaluates every model family. Every image is drawn from a seeded numpy generator, with
structure a model can learn in a few steps:

- ``unpaired``: the CycleGAN layout (``trainA/ trainB/ testA/ testB/``): domain A is a bright disc on a
  dark background, domain B a dark square on a coloured background;
- ``paired``: the pix2pix layout (``train/ test/``, each file A|B side by side): A is a white disc outline on
  black, B the same disc filled with a colour on dark blue;
- ``labelled``: an image folder with one subfolder per class, ``class_k/`` holding images of k vertical
  stripes (k = 1..4);
- ``celeba``: CelebA's subset layout under ``<root>/celeba/`` (``img_align_celeba_64/`` and
  ``list_attr_celeba_subset.txt`` with CelebA's 40 attribute names, rows of 1 / -1). Three attributes are
  drawn in the image (Smiling: a bright bar at the bottom, Eyeglasses: a dark band across the top half,
  Male: a blue rather than red background); the other 37 are random. CelebA's standard layout cannot be
  synthesized: torchvision checks its text files against the release's MD5 sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
DRAWN_ATTRIBUTES = ("Smiling", "Eyeglasses", "Male")

SIZE = 16  # px, every synthetic image but the pairs
PAIRED_SIZE = 32  # px, each half of a pair (a file is 2 * PAIRED_SIZE wide): pix2pix's U-Net needs >= 32
UNPAIRED_COUNTS = {"trainA": 24, "trainB": 24, "testA": 8, "testB": 8}
PAIRED_COUNTS = {"train": 24, "test": 8}
LABELLED_CLASSES, LABELLED_PER_CLASS = 4, 10
CELEBA_IMAGES = 64


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:size, 0:size].astype(np.float32)


def bright_disc(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """Domain A: a bright disc (radius 3-5 px) on a dark background, [size, size, 3] uint8."""
    yy, xx = _grid(size)
    cy, cx, r = rng.uniform(5, size - 5), rng.uniform(5, size - 5), rng.uniform(3, 5)
    image = np.full((size, size, 3), rng.uniform(0, 40), np.float32)
    image[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.uniform(215, 255)
    return image.clip(0, 255).astype(np.uint8)


def dark_square(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """Domain B: a dark square (side 6-9 px) on a saturated coloured background, [size, size, 3] uint8."""
    background = rng.uniform(0, 1, 3)
    background = 120 + 135 * background / background.max()
    image = np.broadcast_to(background, (size, size, 3)).astype(np.float32).copy()
    side = int(rng.integers(6, 10))
    y, x = rng.integers(0, size - side, 2)
    image[y : y + side, x : x + side] = rng.uniform(0, 30)
    return image.clip(0, 255).astype(np.uint8)


def disc_pair(rng: np.random.Generator, size: int = PAIRED_SIZE) -> np.ndarray:
    """One side-by-side pair [size, 2 * size, 3]: A = a white disc outline on black, B = the same disc
    filled with a random colour on dark blue."""
    yy, xx = _grid(size)
    cy, cx, r = rng.uniform(10, size - 10), rng.uniform(10, size - 10), rng.uniform(5, 9)
    distance = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    a = np.zeros((size, size, 3), np.float32)
    a[np.abs(distance - r) <= 1.0] = 255
    b = np.broadcast_to(np.float32([40, 60, 170]), (size, size, 3)).copy()
    b[distance <= r] = rng.uniform(0, 255, 3)
    return np.concatenate([a, b], axis=1).astype(np.uint8)


def stripes(rng: np.random.Generator, k: int, size: int = SIZE) -> np.ndarray:
    """k bright vertical stripes (each half of a size / k period; random phase and colour) on black."""
    _, xx = _grid(size)
    phase = rng.uniform(0.5, 1)  # stripes start at u = 1, 2, .. k of u = x / size * k + phase: exactly k of them
    on = (xx / size * k + phase) % 1 < 0.5
    colour = 150 + rng.uniform(0, 105, 3)
    return (on[..., None] * colour).astype(np.uint8)


def face(rng: np.random.Generator, smiling: bool, eyeglasses: bool, male: bool, size: int = SIZE) -> np.ndarray:
    """A CelebA-like image whose three drawn attributes are visible: background blue (male) or red, a
    mid-grey oval, a bright bar at the bottom (smiling), a dark band across the top half (eyeglasses)."""
    yy, xx = _grid(size)
    image = np.zeros((size, size, 3), np.float32)
    image[..., 2 if male else 0] = rng.uniform(150, 220)
    image[..., 1] = rng.uniform(20, 60)
    oval = ((yy - size / 2) / (0.42 * size)) ** 2 + ((xx - size / 2) / (0.32 * size)) ** 2 <= 1
    image[oval] = rng.uniform(110, 150)
    if eyeglasses:
        image[size // 4 : size // 4 + 3, size // 5 : size - size // 5] = 10
    if smiling:
        image[size - 5 : size - 2, size // 4 : size - size // 4] = 250
    return (image + rng.normal(0, 4, image.shape)).clip(0, 255).astype(np.uint8)


def _save(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def write_unpaired(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for folder, count in UNPAIRED_COUNTS.items():
        draw = bright_disc if folder.endswith("A") else dark_square
        for i in range(count):
            _save(draw(rng), root / folder / f"{i:03d}.png")
    return root


def write_paired(root: Path, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    for folder, count in PAIRED_COUNTS.items():
        for i in range(count):
            _save(disc_pair(rng), root / folder / f"{i:03d}.png")
    return root


def write_labelled(root: Path, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    for k in range(1, LABELLED_CLASSES + 1):
        for i in range(LABELLED_PER_CLASS):
            _save(stripes(rng, k), root / f"class_{k}" / f"{i:03d}.png")
    return root


def write_celeba(root: Path, seed: int = 3) -> Path:
    """``root/celeba/`` in CelebA's subset layout; returns ``root`` (what ``data.root`` takes)."""
    rng = np.random.default_rng(seed)
    folder = root / "celeba" / "img_align_celeba_64"
    attributes = rng.random((CELEBA_IMAGES, len(CELEBA_ATTRIBUTES))) < 0.5
    # the drawn attributes cycle through all 8 combinations so that every split holds each value
    for j, name in enumerate(DRAWN_ATTRIBUTES):
        attributes[:, CELEBA_ATTRIBUTES.index(name)] = (np.arange(CELEBA_IMAGES) >> j) % 2 == 1
    rows = []
    for i in range(CELEBA_IMAGES):
        name = f"{i + 1:06d}.png"
        drawn = {n: bool(attributes[i, CELEBA_ATTRIBUTES.index(n)]) for n in DRAWN_ATTRIBUTES}
        _save(face(rng, drawn["Smiling"], drawn["Eyeglasses"], drawn["Male"]), folder / name)
        rows.append(f"{name} " + " ".join(" 1" if v else "-1" for v in attributes[i]))
    text = [str(CELEBA_IMAGES), " ".join(CELEBA_ATTRIBUTES), *rows]
    (root / "celeba" / "list_attr_celeba_subset.txt").write_text("\n".join(text) + "\n")
    return root


@dataclass(frozen=True)
class SyntheticData:
    unpaired: Path  # data=unpaired data.path=...
    paired: Path  # data=paired data.path=...
    labelled: Path  # data=image_folder data.path=... (class_k/ subfolders)
    celeba_root: Path  # data=celeba data.root=...


def write_all(root: Path) -> SyntheticData:
    return SyntheticData(write_unpaired(root / "unpaired"), write_paired(root / "paired"),
                         write_labelled(root / "labelled"), write_celeba(root / "celeba_root"))
