"""The VAE's objective, the negative evidence lower bound (Kingma & Welling 2014), with beta (Higgins et al.
2017):

    L(x) = ||x - x_hat||^2 / (2 sigma^2)  +  beta * KL(N(mu, sigma_q^2) || N(0, I)),
    KL = -1/2 * sum_j (1 + log sigma_q,j^2 - mu_j^2 - sigma_q,j^2),

the first term being -log N(x; x_hat, sigma^2 I) up to a constant (a Gaussian decoder of fixed std sigma,
images in [-1, 1]); both summed over the pixels and latent dimensions of each image, averaged over the batch.
"""

from __future__ import annotations

import torch


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample: mu, logvar [N, Z] -> [N]."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


def negative_elbo(x: torch.Tensor, x_hat: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                  sigma: float = 1.0, beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, reconstruction, kl), each the batch mean of the per-image sums; x, x_hat [N, ...]."""
    reconstruction = (x - x_hat).pow(2).flatten(1).sum(dim=1).mean() / (2 * sigma**2)
    kl = kl_to_standard_normal(mu, logvar).mean()
    return reconstruction + beta * kl, reconstruction, kl
