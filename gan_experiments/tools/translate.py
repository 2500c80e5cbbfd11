"""``evaluate.py task=translate ckpt=PATH input_dir=DIR direction=a2b|b2a out_dir=DIR``: translate a folder.

Every image under ``input_dir`` (recursively, any mode: converted to RGB) is resized to the model's
training resolution (or ``image_size``), translated in eval mode ``batch_size`` at a time, and written to
``out_dir`` under the same relative path and name (the extension decides the format), at that resolution.
Files that cannot be read as images are skipped and listed in the result (and in a warning).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from omegaconf import DictConfig
from rich.progress import track
from torchvision.transforms import v2
from torchvision.utils import save_image

from gan_experiments.config import ConfigError
from gan_experiments.data.image_folder import find_images
from gan_experiments.data.images import BadImageError, load_rgb
from gan_experiments.data.transforms import to_model_range
from gan_experiments.models import TranslationModule
from gan_experiments.tools.checkpoints import load_module


def read_image(path: Path, transform) -> torch.Tensor | None:
    """The transformed RGB image, or None when the file is not a readable image."""
    try:
        return transform(load_rgb(path))
    except BadImageError:
        return None


def translate_folder(cfg: DictConfig) -> dict:
    module, run_config = load_module(cfg.ckpt)
    if not isinstance(module, TranslationModule):
        raise ConfigError(f"task=translate needs a pix2pix or cyclegan checkpoint; ckpt={cfg.ckpt} is a {type(module).__name__}")
    direction = cfg.get("direction") or "a2b"
    if direction not in module.directions:
        raise ConfigError(f"direction={direction!r}: this checkpoint translates {', '.join(module.directions)}")
    input_dir, out_dir = Path(cfg.input_dir or "").expanduser(), Path(cfg.out_dir)
    files = find_images(input_dir) if cfg.input_dir and input_dir.is_dir() else []
    if not files:
        raise ConfigError(f"input_dir={cfg.input_dir} must be a folder holding images (searched recursively)")
    size = cfg.get("image_size") or run_config["data"]["image_size"]
    transform = v2.Compose([v2.Resize([size, size], interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
                            *to_model_range(3)])
    written, skipped = [], []
    for start in track(range(0, len(files), cfg.batch_size), description=f"translating {direction}"):
        chunk = files[start : start + cfg.batch_size]
        images = [read_image(f, transform) for f in chunk]
        skipped += [str(f) for f, x in zip(chunk, images, strict=True) if x is None]
        kept = [(f, x) for f, x in zip(chunk, images, strict=True) if x is not None]
        if not kept:
            continue
        outputs = module.translate(torch.stack([x for _, x in kept]), direction).float().cpu()
        for (file, _), output in zip(kept, outputs, strict=True):
            target = out_dir / file.relative_to(input_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_image(output, target, normalize=True, value_range=(-1, 1))
            written.append(str(target))
    if skipped:
        warnings.warn(f"task=translate skipped {len(skipped)} unreadable file(s): {', '.join(skipped)}", stacklevel=1)
    return {"direction": direction, "image_size": size, "num_translated": len(written), "out_dir": str(out_dir),
            "skipped": skipped}
