"""Memorization check: are generated samples closer to training images than real unseen images are?

For each generated sample, the feature-space distance to its nearest training image is compared with the
same distance for real validation images: the share of generated samples closer than the validation
images' 1st percentile flags copies of training data.
"""

from __future__ import annotations

import torch


def nearest(queries: torch.Tensor, reference: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance [M] and index [M] of each query's nearest reference point."""
    distances, indices = [], []
    for start in range(0, len(queries), chunk):
        d, i = torch.cdist(queries[start : start + chunk].double(), reference.double()).min(dim=1)
        distances.append(d)
        indices.append(i)
    return torch.cat(distances), torch.cat(indices)


def memorization(fake: torch.Tensor, train: torch.Tensor, val: torch.Tensor, percentile: float = 1.0) -> dict:
    """fake [M, d], train [T, d], val [V, d] features -> the memorization share and the closest pairs."""
    fake_d, fake_i = nearest(fake, train)
    val_d, _ = nearest(val, train)
    threshold = torch.quantile(val_d, percentile / 100).item()
    order = fake_d.argsort()
    return {
        "memorized_fraction": (fake_d < threshold).double().mean().item(),
        "threshold": threshold,
        "closest_fake": order,
        "closest_train": fake_i[order],
        "distances": fake_d[order],
    }
