"""The one supervised training loop of the project: the metrics classifier (``metrics.classifier``) and the
augmentation study's classifiers (``tools.augmentation``) train through ``fit_classifier``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from rich.progress import track
from torch import nn


def fit_classifier(
    classifier: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    lr: float = 1e-3,
    description: str | None = None,
) -> nn.Module:
    """Adam(``lr``) on ``loss_fn(classifier(x), y)`` over the first ``steps`` batches of ``batches``
    (x [B, C, H, W], y [B] class indices or [B, K] attributes; an endless iterable, e.g. a loader
    chained with itself), in training mode; returns ``classifier`` in eval mode. Randomness (dropout, the
    batches' own draws) comes from torch's global generator: seed it, e.g. under ``torch.random.fork_rng``,
    before building the classifier. ``description``: show a progress bar with that text."""
    optimizer = torch.optim.Adam(classifier.parameters(), lr=lr)
    classifier.train()
    first = itertools.islice(batches, steps)
    for x, y in track(first, total=steps, description=description) if description else first:
        loss = loss_fn(classifier(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return classifier.eval()
