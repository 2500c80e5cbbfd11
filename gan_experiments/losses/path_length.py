"""Path length regularization of StyleGAN2 (Karras et al. 2020, sec. 3.2, eq. 4; NVlabs ``loss.py`` Gpl):

    PL = E_{w, y ~ N(0, I)} ( ||J_wᵀ y||_2 - a )²,     J_wᵀ y = ∇_w (g(w) · y)

with y a random image [N, C, H, W] scaled by 1 / sqrt(H W) (so the norm does not grow with resolution),
the gradient taken with respect to the per-layer styles ws [N, L, W] and its length
||J_wᵀ y|| = sqrt(mean_L Σ_W (∇_ws)²), and a the running mean of that length,
a <- a + decay (mean_N length - a) (``pl_decay`` 0.01), saved with the module's state. As in NVlabs, the
penalty uses this step's a before detaching it, so a small gradient (decay / N) also flows through it.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class PathLengthPenalty(nn.Module):
    """``forward(images [N, C, H, W], ws [N, L, W])`` -> (penalty [N], lengths [N]); ``ws`` must be the
    tensor ``images`` were synthesized from, with gradients. Updates the running mean ``pl_mean`` (a buffer:
    checkpoints carry it, so a resume continues from the same a)."""

    def __init__(self, decay: float = 0.01):
        super().__init__()
        if not 0 < decay <= 1:
            raise ValueError(f"pl_decay must be in (0, 1], got {decay!r}")
        self.decay = decay
        self.register_buffer("pl_mean", torch.zeros([]))

    def forward(self, images: torch.Tensor, ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn_like(images, dtype=torch.float32) / math.sqrt(images.shape[2] * images.shape[3])
        (grads,) = torch.autograd.grad((images.float() * noise).sum(), ws, create_graph=True)
        lengths = grads.float().square().sum(dim=2).mean(dim=1).sqrt()
        pl_mean = self.pl_mean.lerp(lengths.mean(), self.decay)  # differentiable, as NVlabs
        self.pl_mean.copy_(pl_mean.detach())
        return (lengths - pl_mean).square(), lengths
