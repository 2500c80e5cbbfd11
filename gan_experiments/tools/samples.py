"""``evaluate.py task=samples``: a sample grid (and the raw images) from a checkpoint's generator."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import save_image

from gan_experiments.tools.checkpoints import load_module


def sample_grid(ckpt: str, out_dir: str, num_samples: int = 64, seed: int = 0) -> dict:
    """Writes ``out_dir/samples.png`` (one row per class for conditional models) and returns a summary."""
    module, _ = load_module(ckpt)
    gen = torch.Generator().manual_seed(seed)
    if module.num_classes:
        per_class = max(1, num_samples // module.num_classes)
        z = torch.randn(per_class, module.latent_dim, generator=gen).repeat(module.num_classes, 1)
        labels, nrow = torch.arange(module.num_classes).repeat_interleave(per_class), per_class
    else:
        z, labels, nrow = torch.randn(num_samples, module.latent_dim, generator=gen), None, math.ceil(math.sqrt(num_samples))
    images = module.sample(z, labels).float()
    if images.ndim != 4:
        raise ValueError(f"task=samples needs an image generator; this one returns shape {list(images.shape)}")
    path = Path(out_dir) / "samples.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, path, nrow=nrow, normalize=True, value_range=(-1, 1))
    return {"samples": str(path), "num_images": len(images)}
