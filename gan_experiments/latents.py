"""Latent sampling shared by the metrics, the callbacks and the generation tools: the truncation trick in z
and the fixed, seeded evaluation latents (``tools.latents`` re-exports ``truncated_normal``)."""

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


def fixed_latents(n: int, latent_dim: int, labels: torch.Tensor | None, seed: int, psi: float | None = None):
    """z [n, latent_dim] (truncated at ``psi`` if given) and, for conditional models, labels [n] resampled
    from ``labels`` (the real class distribution), from a seeded generator: the same evaluation set at every
    epoch and on every rank."""
    gen = torch.Generator().manual_seed(seed)
    z = truncated_normal(n, latent_dim, psi, gen)
    if labels is None:
        return z, None
    return z, labels[torch.randint(len(labels), (n,), generator=gen)]
