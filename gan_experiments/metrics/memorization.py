"""Memorization check: are generated samples closer to training images than real unseen images are?

For each generated sample, the feature-space distance to its nearest image of the whole training set is
compared with the same distance for real validation images: the share of generated samples closer than
the validation images' 1st percentile flags copies of training data. By construction a generator whose
samples are distributed like unseen real images (it copies nothing) scores about 1 % (the percentile);
far above 1 % means samples sit nearer to training images than new real images do.
"""

from __future__ import annotations

import torch


def nearest(queries: torch.Tensor, reference: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance [M] and index [M] of each query's nearest reference point; queries [M, d], reference [T, d],
    compared ``chunk`` x ``chunk`` at a time (memory bounded: a whole training set as ``reference``)."""
    distances, indices = [], []
    for start in range(0, len(queries), chunk):
        query = queries[start : start + chunk].double()
        best_d = torch.full((len(query),), float("inf"), dtype=torch.float64)
        best_i = torch.zeros(len(query), dtype=torch.long)
        for offset in range(0, len(reference), chunk):
            d, i = torch.cdist(query, reference[offset : offset + chunk].double()).min(dim=1)
            closer = d < best_d
            best_d, best_i = torch.where(closer, d, best_d), torch.where(closer, i + offset, best_i)
        distances.append(best_d)
        indices.append(best_i)
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
