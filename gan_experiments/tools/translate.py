"""``evaluate.py task=translate ckpt=PATH input_dir=DIR direction=a2b|b2a out_dir=DIR``: translate a folder.

Every image under ``input_dir`` (recursively, any mode: converted to RGB) is resized to the model's
training resolution (or ``image_size``), translated ``batch_size`` at a time by the checkpoint's test mode
(pix2pix: the paper's, dropout on and each image's own batch statistics; ``test_mode=eval`` for running
statistics without dropout), and written to
``out_dir`` under the same relative path and name (the extension decides the format), at that resolution.
``out_dir`` may not be ``input_dir`` or inside it, and existing files are replaced only with ``overwrite=true``.
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

from gan_experiments.data.image_folder import find_images
from gan_experiments.data.images import BadImageError, load_rgb
from gan_experiments.data.transforms import to_model_range
from gan_experiments.errors import ConfigError
from gan_experiments.models import TranslationModule
from gan_experiments.tools.checkpoints import checkpoint_module


def read_image(path: Path, transform) -> torch.Tensor | None:
    """The transformed RGB image, or None when the file is not a readable image."""
    try:
        return transform(load_rgb(path))
    except BadImageError:
        return None


def check_out_dir(input_dir: Path, out_dir: Path, files: list[Path], overwrite: bool) -> None:
    """Refuse an ``out_dir`` that is ``input_dir`` or inside it (the translations would replace or mix with
    the source images), and unless ``overwrite`` one that already holds a file of a name this would write."""
    source, target = input_dir.resolve(), out_dir.resolve()
    if target == source or source in target.parents:
        raise ConfigError(f"out_dir={out_dir} is inside input_dir={input_dir}: the translations would replace or "
                          "mix with the source images; choose an out_dir outside input_dir")
    existing = [out_dir / f.relative_to(input_dir) for f in files if (out_dir / f.relative_to(input_dir)).exists()]
    if existing and not overwrite:
        raise ConfigError(f"out_dir={out_dir} already holds {len(existing)} file(s) this would replace (e.g. "
                          f"{existing[0]}); choose another out_dir, or pass overwrite=true to replace them")


def translate_folder(cfg: DictConfig, *, ckpt: str, input_dir: str, direction: str, image_size: int | None,
                     batch_size: int, overwrite: bool, test_mode: str | None) -> dict:
    source, out_dir = Path(input_dir or "").expanduser(), Path(cfg.out_dir)
    files = find_images(source) if input_dir and source.is_dir() else []
    if not files:
        raise ConfigError(f"input_dir={input_dir} must be a folder holding images (searched recursively)")
    check_out_dir(source, out_dir, files, overwrite)
    module, run_config = checkpoint_module(cfg, ckpt)
    if not isinstance(module, TranslationModule):
        raise ConfigError(f"task=translate needs a pix2pix or cyclegan checkpoint; ckpt={ckpt} is a {type(module).__name__}")
    if test_mode:
        module.set_test_mode(test_mode)
    if direction not in module.directions:
        raise ConfigError(f"direction={direction!r}: this checkpoint translates {', '.join(module.directions)}")
    size = image_size or run_config["data"]["image_size"]
    transform = v2.Compose([v2.Resize([size, size], interpolation=v2.InterpolationMode.BICUBIC, antialias=True),
                            *to_model_range(3)])
    written, skipped = [], []
    for start in track(range(0, len(files), batch_size), description=f"translating {direction}"):
        chunk = files[start : start + batch_size]
        images = [read_image(f, transform) for f in chunk]
        skipped += [str(f) for f, x in zip(chunk, images, strict=True) if x is None]
        kept = [(f, x) for f, x in zip(chunk, images, strict=True) if x is not None]
        if not kept:
            continue
        outputs = module.translate(torch.stack([x for _, x in kept]), direction).float().cpu()
        for (file, _), output in zip(kept, outputs, strict=True):
            target = out_dir / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_image(output, target, normalize=True, value_range=(-1, 1))
            written.append(str(target))
    if skipped:
        warnings.warn(f"task=translate skipped {len(skipped)} unreadable file(s): {', '.join(skipped)}", stacklevel=1)
    return {"direction": direction, "image_size": size, "test_mode": module.test_mode, "num_translated": len(written),
            "out_dir": str(out_dir),
            "skipped": skipped}
