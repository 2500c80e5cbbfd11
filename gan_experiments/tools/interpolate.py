"""``evaluate.py task=interpolate ckpt=PATH [space=z|w] [method=linear|slerp] [num_images=8] [steps=10]``.

``num_images`` pairs of latents (seeded), ``steps`` points between each pair: a PNG grid (one row per
pair) and a GIF walking all rows together. In Z any unconditional or conditional generator (a cGAN keeps
one class per row); in W (StyleGAN) the mapped latents w = f(z) are interpolated and synthesized.
Spherical interpolation (slerp) suits Gaussian z (White 2016); linear suits w.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_experiments.errors import ConfigError
from gan_experiments.models.capabilities import StyleSpaceGenerator
from gan_experiments.tools.checkpoints import checkpoint_module
from gan_experiments.tools.visual import save_gif, save_grid


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) a + t b for t [T]: a, b [N, ...] -> [N, T, ...]."""
    t = t.view(1, -1, *[1] * (a.ndim - 1))
    return a[:, None] * (1 - t) + b[:, None] * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation over the last axis: sin((1-t) omega)/sin(omega) a + sin(t omega)/sin(omega) b
    (omega the angle between a and b; linear where they are parallel). a, b [N, D] -> [N, T, D]."""
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1, 1)
    omega = torch.acos(cos)[:, None, None]  # [N, 1, 1]
    t = t.view(1, -1, 1)
    sin = torch.sin(omega)
    spherical = (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / sin.clamp_min(1e-7)
    return torch.where(sin < 1e-6, lerp(a, b, t.flatten()), spherical)


def interpolate(cfg: DictConfig, *, ckpt: str, space: str, method: str, steps: int, num_images: int) -> dict:
    """``space`` z or w, ``method`` slerp or linear (the task's schema admits only those)."""
    module, _ = checkpoint_module(cfg, ckpt)
    n = min(num_images, 16)  # pairs (rows)
    if space == "w" and not isinstance(module, StyleSpaceGenerator):
        raise ConfigError("space=w needs a StyleGAN checkpoint (a mapping network); use space=z")
    gen = torch.Generator().manual_seed(cfg.seed)
    z1, z2 = torch.randn(n, module.latent_dim, generator=gen), torch.randn(n, module.latent_dim, generator=gen)
    t = torch.linspace(0, 1, steps)
    torch.manual_seed(cfg.seed)  # StyleGAN draws its noise maps from the global generator: seed it too
    mix = slerp if method == "slerp" else lerp
    if space == "w":
        w1, w2 = module.styles(z1)[:, 0].cpu(), module.styles(z2)[:, 0].cpu()
        path_w = mix(w1, w2, t)  # [n, steps, W]
        ws = path_w.reshape(n * steps, 1, -1).expand(-1, module.sampler.num_ws, -1)
        images = module.synthesize(ws)
    else:
        labels = (torch.arange(n) % module.num_classes).repeat_interleave(steps) if module.num_classes else None
        images = module.sample(mix(z1, z2, t).reshape(n * steps, -1), labels)
    images = images.float().cpu().view(n, steps, *images.shape[1:])
    out_dir = Path(cfg.out_dir)
    grid = save_grid(images.flatten(0, 1), out_dir / f"interpolate_{space}_{method}.png", nrow=steps)
    gif = save_gif([images[:, i] for i in range(steps)], out_dir / f"interpolate_{space}_{method}.gif", nrow=n)
    return {"space": space, "method": method, "pairs": n, "steps": steps, "grid": str(grid), "gif": str(gif)}
