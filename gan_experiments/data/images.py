"""Image files in, RGB images out: any mode and size is converted; unreadable files are named, never a
bare decoder traceback.

``data.bad_images`` says what an unreadable file (zero bytes, truncated, not an image) does:
``skip`` (default) trains without it after one warning listing every such file and their count (an
error when no file is left);
``error`` stops before training with the list. ``data.check_images=false`` skips the up-front scan (a full
decode of every file, in threads: about 1 ms per 256 px JPEG per core); a bad file met during training
then stops it with an error naming the file (also from a DataLoader worker: one line, not the worker's
traceback).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image

BAD_IMAGE_POLICIES = ("skip", "error")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
SHOWN = 20  # files listed in a message; the count covers all


class BadImageError(ValueError):
    """An image file cannot be decoded; the message names it (them) and says what to do.

    Raised in a DataLoader worker, it reaches the main process rebuilt by torch from one string, the
    worker's whole traceback ("Caught BadImageError in DataLoader worker process 0. Original Traceback ...");
    the constructor keeps only the original message, so the entry points still print one line.
    """

    def __init__(self, message: str):
        super().__init__(_original_message(message))


def _original_message(message: str) -> str:
    """The original message inside torch's re-raise text of a worker exception; other messages unchanged."""
    marker = f"{BadImageError.__name__}: "
    if not message.startswith(f"Caught {BadImageError.__name__}") or marker not in message:
        return message
    return message.rsplit(marker, 1)[1].strip()


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


def advice(scanned: bool) -> str:
    """What to do about a file that failed to decode during training, by whether the scan ran before."""
    if scanned:
        return ("it changed or vanished since data.check_images scanned the files before training: restore it, "
                "or remove it and start again")
    return "delete or replace it, or let data.check_images=true (the default) find every such file before training"


def load_rgb(path: Path, scanned: bool = False) -> Image.Image:
    """The file as an RGB image; ``BadImageError`` naming it when it cannot be decoded (``scanned``: it
    passed the ``data.check_images`` scan, which changes the advice)."""
    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise BadImageError(f"{path} cannot be read as an image ({err}); {advice(scanned)}") from err


def unreadable(path: Path) -> str | None:
    """Why ``path`` does not decode in full (zero bytes, truncated, not an image), or None if it does."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def find_unreadable(files: Sequence[Path], check: Callable[[Path], str | None] = unreadable) -> list[tuple[Path, str]]:
    """(file, reason) of each file that ``check`` finds fault with (default: it does not decode), in order."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # PIL decodes without the GIL
        reasons = list(pool.map(check, files))
    return [(path, reason) for path, reason in zip(files, reasons, strict=True) if reason]


def describe_unreadable(bad: list[tuple[Path, str]], total: int, where: str, what: str = "cannot be read") -> str:
    """"N of TOTAL image files in WHERE <what>:" and the first ``SHOWN`` of them with their reasons."""
    listing = "\n  ".join(f"{path}: {reason}" for path, reason in bad[:SHOWN])
    more = f"\n  ... and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    return f"{len(bad)} of {total} image files in {where} {what}:\n  {listing}{more}\n"


def drop_unreadable(files: Sequence[Path], policy: str, where: str, check: Callable[[Path], str | None] = unreadable,
                    what: str = "cannot be read", hint: str = "") -> list[Path]:
    """``files`` without those ``check`` finds fault with (default: they do not decode); by ``policy`` a
    warning or a ``BadImageError`` lists them (``what`` they are, e.g. "cannot be read"). When none is
    left, a ``BadImageError`` under either policy (with ``hint``: what else the user may have meant)."""
    if policy not in BAD_IMAGE_POLICIES:
        raise ValueError(f"data.bad_images must be one of {', '.join(BAD_IMAGE_POLICIES)}, got {policy!r}")
    bad = find_unreadable(files, check)
    if not bad:
        return list(files)
    summary = describe_unreadable(bad, len(files), where, what)
    if policy == "error":
        raise BadImageError(summary + "Delete or replace them, or set data.bad_images=skip to train without them.")
    if len(bad) == len(files):
        raise BadImageError(summary + "None is left to use" + (f"; {hint}" if hint else "") + ".")
    rank_zero_warn(summary + "Training without them (data.bad_images=skip; set it to error to stop instead).")
    left_out = {path for path, _ in bad}
    return [path for path in files if path not in left_out]
