"""``evaluate.py task=z_directions ckpt=PATH``: one editing direction per attribute, found once and saved.

For each attribute of the dataset's classifier, the unit-length mean of the normalized score gradients
at ``num_images`` random latents (z, or w for StyleGAN): a direction along which the attribute rises on
average. Saved to ``out_dir/directions.pt`` ({names, space, directions [K, D]}); then
``task=edit attribute=NAME directions=out_dir/directions.pt`` edits by adding
edit_steps · step_size · direction, with no classifier gradients at edit time. Also reports each
direction's cosine similarity with the target attribute's, the latent-space view of the bias audit.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from gan_experiments.tools.edit import initial_latents, make_editor


def mean_gradient_direction(editor, latent: torch.Tensor, index: int) -> torch.Tensor:
    latent = latent.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(editor.scores(latent)[:, index].sum(), latent)
    direction = (grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)).mean(dim=0)
    return direction / direction.norm().clamp_min(1e-12)


def z_directions(cfg: DictConfig, *, ckpt: str, num_images: int, edit_space: str | None) -> dict:
    editor = make_editor(cfg, ckpt, edit_space)
    latent = initial_latents(editor, num_images, cfg.seed)
    directions = torch.stack([mean_gradient_direction(editor, latent, k) for k in range(len(editor.names))])
    path = Path(cfg.out_dir) / "directions.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"names": editor.names, "space": editor.space, "directions": directions}, path)
    cosine = directions @ directions.T
    return {"file": str(path), "space": editor.space, "num_samples": len(latent),
            "cosine": {a: {b: round(cosine[i, j].item(), 3) for j, b in enumerate(editor.names)}
                       for i, a in enumerate(editor.names)}}
