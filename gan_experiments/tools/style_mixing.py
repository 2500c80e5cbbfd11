"""``evaluate.py task=style_mixing ckpt=PATH``: the StyleGAN paper's style-mixing figure (Fig. 3).

Sources A (rows, ``num_images``) and B (columns, ``num_images``), seeded. For each band of style layers,
a grid whose first row shows the B images, first column the A images, and cell (i, j) the image of A_i's
styles with the band's layers taken from B_j: coarse = 4²-8² (layers 0-3: pose, face shape), middle =
16²-32² (layers 4-7: features, hair style), fine = 64² and above (colour scheme, micro-structure).
Bands beyond the model's resolution are skipped. One fixed noise draw for the whole figure.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_experiments.errors import ConfigError
from gan_experiments.models.capabilities import StyleSpaceGenerator
from gan_experiments.tools.checkpoints import checkpoint_module
from gan_experiments.tools.visual import save_grid

BANDS = {"coarse": (0, 4), "middle": (4, 8), "fine": (8, None)}


def mix_band(ws_a: torch.Tensor, ws_b: torch.Tensor, start: int, stop: int | None) -> torch.Tensor:
    """[rows, L, W] x [cols, L, W] -> [rows * cols, L, W]: A's styles with layers start:stop from B."""
    mixed = ws_a[:, None].repeat(1, len(ws_b), 1, 1)
    mixed[:, :, start:stop] = ws_b[None, :, start:stop]
    return mixed.flatten(0, 1)


def style_mixing(cfg: DictConfig, *, ckpt: str, num_images: int) -> dict:
    module, _ = checkpoint_module(cfg, ckpt)
    if not isinstance(module, StyleSpaceGenerator):
        raise ConfigError("task=style_mixing needs a StyleGAN checkpoint (model=stylegan or model=stylegan2)")
    n = min(num_images, 8)
    gen = torch.Generator().manual_seed(cfg.seed)
    ws_a = module.styles(torch.randn(n, module.latent_dim, generator=gen)).cpu()
    ws_b = module.styles(torch.randn(n, module.latent_dim, generator=gen)).cpu()
    num_ws = ws_a.shape[1]
    torch.manual_seed(cfg.seed)  # one noise draw per synthesis call, the same for every band
    images_a, images_b = module.synthesize(ws_a).cpu(), module.synthesize(ws_b).cpu()
    blank = torch.full_like(images_a[:1], -1.0)
    grids = {}
    for band, (start, stop) in BANDS.items():
        if start >= num_ws:
            continue
        torch.manual_seed(cfg.seed)
        mixed = module.synthesize(mix_band(ws_a, ws_b, start, stop)).cpu().view(n, n, *images_a.shape[1:])
        rows = [torch.cat([blank, images_b])] + [torch.cat([images_a[i : i + 1], mixed[i]]) for i in range(n)]
        grids[band] = str(save_grid(torch.cat(rows), Path(cfg.out_dir) / f"style_mixing_{band}.png", nrow=n + 1))
    return {"num_ws": num_ws, "grids": grids, "bands": {b: list(r) for b, r in BANDS.items() if r[0] < num_ws}}
