"""Mode coverage of 2-D mixtures, with the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018).

A sample is high-quality when it lies within ``3 * std`` of its nearest mode centre; a mode is covered
when at least ``min_count`` (20) high-quality samples fall to it. Reported on 2,500 samples.
"""

from __future__ import annotations

import torch


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float, min_count: int = 20) -> dict[str, float]:
    """samples [N, 2], centres [K, 2] -> modes_covered (0..K) and high_quality_fraction (0..1)."""
    if samples.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples must have shape [N, {centres.shape[1]}], got {list(samples.shape)}")
    distances = torch.cdist(samples.float(), centres.float())
    nearest_distance, nearest_mode = distances.min(dim=1)
    high_quality = nearest_distance <= 3 * std
    counts = torch.bincount(nearest_mode[high_quality], minlength=len(centres))
    return {
        "modes_covered": float((counts >= min_count).sum()),
        "high_quality_fraction": float(high_quality.float().mean()),
    }


@torch.no_grad()
def generator_mode_coverage(module, centres: torch.Tensor, std: float, num_samples: int = 2500, min_count: int = 20,
                            seed: int = 0) -> tuple[dict[str, float], torch.Tensor]:
    """``mode_coverage`` of ``num_samples`` points [N, 2] that ``module`` generates from a seeded z (and, for
    a conditional module, seeded labels over the K modes); returns (scores, samples [N, 2] on the CPU)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(num_samples, module.latent_dim, generator=gen)
    labels = torch.randint(len(centres), (num_samples,), generator=gen) if module.num_classes else None
    samples = module.sample(z, labels).float().cpu()
    return mode_coverage(samples, centres, std, min_count), samples
