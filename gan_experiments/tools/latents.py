"""Latent sampling for generation tools: the truncation trick in z."""

from __future__ import annotations

import torch


def truncated_normal(n: int, dim: int, psi: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """z ~ N(0, I) [n, dim]; with ``psi`` every coordinate with |z_i| > psi is redrawn until it is not
    (the truncation trick of BigGAN, Brock et al. 2019): smaller psi, higher fidelity, less diversity."""
    z = torch.randn(n, dim, generator=generator)
    if psi is None:
        return z
    if psi <= 0:
        raise ValueError(f"truncation psi must be > 0, got {psi}")
    outside = z.abs() > psi
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > psi
    return z
