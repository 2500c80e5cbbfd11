"""Image grids and animated GIFs written by the visual evaluation tasks."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid, save_image


def save_grid(images: torch.Tensor, path: Path, nrow: int) -> Path:
    """[N, C, H, W] generator-range images ([-1, 1]) as one PNG grid with ``nrow`` images per row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return path


def save_gif(frames: list[torch.Tensor], path: Path, nrow: int, duration_ms: int = 120) -> Path:
    """One GIF frame per [N, C, H, W] batch (each laid out as a grid), looping forwards and back."""
    pictures = []
    for batch in frames:
        grid = make_grid(batch.float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        pictures.append(Image.fromarray(grid.mul(255).round().byte().permute(1, 2, 0).numpy()))
    sequence = pictures + pictures[-2:0:-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    sequence[0].save(path, save_all=True, append_images=sequence[1:], duration=duration_ms, loop=0)
    return path
