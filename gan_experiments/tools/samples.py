"""``evaluate.py task=samples ckpt=PATH``: ``num_images`` generated images as PNG files in
``out_dir/images/`` (for ``task=compare`` or any other use) and a grid, with ``seed`` and optional
truncation ``psi``; conditional models cycle through their classes."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from omegaconf import DictConfig
from torchvision.utils import save_image

from gan_experiments.tools.checkpoints import checkpoint_module
from gan_experiments.tools.latents import truncated_normal


def write_samples(cfg: DictConfig, *, ckpt: str, num_images: int, psi: float | None) -> dict:
    module, _ = checkpoint_module(cfg, ckpt)
    n, out_dir = num_images, Path(cfg.out_dir)
    z = truncated_normal(n, module.latent_dim, psi, torch.Generator().manual_seed(cfg.seed))
    labels = torch.arange(n) % module.num_classes if module.num_classes else None
    folder = out_dir / "images"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)  # StyleGAN draws its noise maps from the global generator: seed it too
    grid_images = []
    for start in range(0, n, 250):
        y = None if labels is None else labels[start : start + 250]
        images = module.sample(z[start : start + 250], y).float().cpu()
        if images.ndim != 4:
            raise ValueError(f"task=samples needs an image generator; this one returns shape {list(images.shape)}")
        for i, image in enumerate(images, start):
            save_image(image, folder / f"{i:06d}.png", normalize=True, value_range=(-1, 1))
        grid_images.append(images[: max(0, 64 - start)])
    grid = out_dir / "grid.png"
    save_image(torch.cat(grid_images)[:64], grid, nrow=math.ceil(math.sqrt(min(n, 64))), normalize=True,
               value_range=(-1, 1))
    return {"images": str(folder), "num_images": n, "grid": str(grid), "psi": psi, "seed": cfg.seed}
