"""``evaluate.py task=noise ckpt=PATH [num_images=4] [draws=8]``: StyleGAN's stochastic variation (Fig. 4).

For each of ``num_images`` latents (seeded): one w, ``draws`` noise draws, and the per-pixel standard
deviation over the draws (mean over colour channels, scaled to its maximum, shown as gray level): the
noise moves hair, freckles and background detail, not identity or pose. A PNG grid (one row per latent:
the draws, then the std map) and a GIF cycling through the draws.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_experiments.errors import ConfigError
from gan_experiments.models.capabilities import StyleSpaceGenerator
from gan_experiments.tools.checkpoints import checkpoint_module
from gan_experiments.tools.visual import save_gif, save_grid


def noise_variation(cfg: DictConfig, *, ckpt: str, num_images: int, draws: int) -> dict:
    """``draws`` >= 2 (the task's schema checks it): the standard deviation needs two."""
    module, _ = checkpoint_module(cfg, ckpt)
    if not isinstance(module, StyleSpaceGenerator):
        raise ConfigError("task=noise needs a StyleGAN checkpoint (model=stylegan or model=stylegan2)")
    n = min(num_images, 16)
    ws = module.styles(torch.randn(n, module.latent_dim, generator=torch.Generator().manual_seed(cfg.seed)))
    samples = []
    for d in range(draws):
        torch.manual_seed(cfg.seed + 1 + d)  # noise maps are drawn inside the synthesis network
        samples.append(module.synthesize(ws).float().cpu())
    stack = torch.stack(samples, dim=1)  # [n, draws, C, H, W]
    std = stack.std(dim=1).mean(dim=1, keepdim=True)  # [n, 1, H, W]
    std_map = (std / std.flatten(1).amax(1).clamp_min(1e-8)[:, None, None, None] * 2 - 1).expand(-1, stack.shape[2], -1, -1)
    rows = torch.cat([stack, std_map[:, None]], dim=1).flatten(0, 1)
    out_dir = Path(cfg.out_dir)
    grid = save_grid(rows, out_dir / "noise_variation.png", nrow=draws + 1)
    gif = save_gif([stack[:, d] for d in range(draws)], out_dir / "noise_variation.gif", nrow=n)
    return {"num_images": n, "draws": draws, "grid": str(grid), "gif": str(gif),
            "mean_pixel_std": std.mean().item()}
