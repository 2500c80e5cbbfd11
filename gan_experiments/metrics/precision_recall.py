"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds in feature space.

Each set's manifold is the union of balls around its points with radius = distance to the k-th nearest
neighbour within the set (k = 3). precision = share of fake features inside the real manifold;
recall = share of real features inside the fake manifold.
"""

from __future__ import annotations

import torch


def knn_radii(features: torch.Tensor, k: int = 3, chunk: int = 1024) -> torch.Tensor:
    """Distance of each point [N, d] to its k-th nearest other point, [N]."""
    if len(features) <= k:
        raise ValueError(f"need more than k={k} samples for k-NN radii, got {len(features)}")
    radii = []
    for start in range(0, len(features), chunk):
        d = torch.cdist(features[start : start + chunk], features)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # the 1st smallest is the point itself (distance 0)
    return torch.cat(radii)


def inside_manifold(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each query [M, d]: is it within radius r_j of some point j ([N, d], radii [N])? -> bool [M]."""
    inside = []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start : start + chunk], points)
        inside.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """real [N, d], fake [M, d] -> {"precision", "recall"} in [0, 1] (computed in float64)."""
    real, fake = real.double(), fake.double()
    precision = inside_manifold(fake, real, knn_radii(real, k)).double().mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k)).double().mean()
    return {"precision": precision.item(), "recall": recall.item()}
