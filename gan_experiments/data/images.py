"""Image files in, RGB images out: any mode and size is converted; unreadable files are named, never a
bare decoder traceback.

``data.bad_images`` says what an unreadable file (zero bytes, truncated, not an image) does:
``skip`` (default) trains without it after one warning listing every such file and their count;
``error`` stops before training with the list. ``data.check_images=false`` skips the up-front scan (a full
decode of every file, in threads: about 1 ms per 256 px JPEG per core); a bad file met during training
then stops it with an error naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image

BAD_IMAGE_POLICIES = ("skip", "error")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_SHOWN = 20  # files listed in a message; the count covers all


class BadImageError(ValueError):
    """An image file cannot be decoded; the message names it (them) and says what to do."""


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB of any PIL mode: transparency composited on white (RGBA, LA, palette with transparency),
    16-bit grayscale scaled to 8 bits (PIL's own conversion clips it), CMYK, L, 1, P converted."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    if image.mode in _SIXTEEN_BIT:
        values = np.asarray(image, dtype=np.float64)
        if values.max(initial=0) > 255:
            values = values * (255 / 65535)
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255 if values.max(initial=0) <= 1 else 1
        return Image.fromarray(np.clip(np.rint(values * scale), 0, 255).astype(np.uint8), "L").convert("RGB")
    return image.convert("RGB")


def load_rgb(path: Path) -> Image.Image:
    """The file as an RGB image; ``BadImageError`` naming it when it cannot be decoded."""
    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise BadImageError(f"{path} cannot be read as an image ({err}); delete or replace it, or let "
                            "data.check_images=true (the default) find every such file before training") from err


def unreadable(path: Path) -> str | None:
    """Why ``path`` does not decode in full (zero bytes, truncated, not an image), or None if it does."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def drop_unreadable(files: Sequence[Path], policy: str, where: str) -> list[Path]:
    """``files`` without the ones that do not decode; by ``policy`` a warning or a ``BadImageError`` lists them."""
    if policy not in BAD_IMAGE_POLICIES:
        raise ValueError(f"data.bad_images must be one of {', '.join(BAD_IMAGE_POLICIES)}, got {policy!r}")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes without the GIL
        reasons = list(pool.map(unreadable, files))
    bad = [(path, reason) for path, reason in zip(files, reasons, strict=True) if reason]
    if not bad:
        return list(files)
    listing = "\n  ".join(f"{path}: {reason}" for path, reason in bad[:_SHOWN])
    more = f"\n  ... and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    summary = f"{len(bad)} of {len(files)} image files in {where} cannot be read:\n  {listing}{more}\n"
    if policy == "error":
        raise BadImageError(summary + "Delete or replace them, or set data.bad_images=skip to train without them.")
    rank_zero_warn(summary + "Training without them (data.bad_images=skip; set it to error to stop instead).")
    return [path for path, reason in zip(files, reasons, strict=True) if not reason]
