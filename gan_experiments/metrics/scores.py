"""FID, KID and IS with torchmetrics on features extracted once, plus improved precision/recall.

The torchmetrics metric objects are fed precomputed features through a pass-through "feature extractor",
so the metric maths is torchmetrics' own while extraction (and its caching) is ours. Random subsets (KID)
and splits (IS) are drawn under a fixed seed, so every rank of a DDP run gets the same numbers.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from gan_experiments.metrics.precision_recall import precision_recall

UPDATE_CHUNK = 500  # features per update call (memory stays flat; see DESIGN.md)
SCORES = ("fid", "kid", "is", "precision", "recall")


class Precomputed(nn.Module):
    """Identity "feature extractor" for torchmetrics: inputs already are features [N, num_features]."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _quiet(metric_class, **kwargs):
    """A torchmetrics metric without its "will save all extracted features in buffer" warning (we know)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        return metric_class(**kwargs)


def _feed(metric, features: torch.Tensor, **kwargs) -> None:
    for chunk in features.split(UPDATE_CHUNK):
        metric.update(chunk, **kwargs)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID = ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) on features [N, d] (Heusel et al. 2017)."""
    fid = FrechetInceptionDistance(feature=Precomputed(real.shape[1]), sync_on_compute=False)
    fid.set_dtype(torch.float64)
    _feed(fid, real.double(), real=True)
    _feed(fid, fake.double(), real=False)
    return fid.compute().item()


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
    """KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel, mean and std over subsets."""
    size = min(subset_size, len(real), len(fake))
    kid = _quiet(KernelInceptionDistance, feature=Precomputed(real.shape[1]), subsets=subsets, subset_size=size,
                 sync_on_compute=False)
    _feed(kid, real.double(), real=True)
    _feed(kid, fake.double(), real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return mean.item(), std.item()


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0):
    """IS (Salimans et al. 2016) = exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` splits."""
    score = _quiet(InceptionScore, feature=Precomputed(logits.shape[1]), splits=min(splits, len(logits)),
                   sync_on_compute=False)
    _feed(score, logits.double())
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = score.compute()
    return mean.item(), std.item()


def all_scores(real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor | None, k: int = 3,
               scores: tuple[str, ...] = SCORES, pr: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, float]:
    """The ``scores`` of fake features against real ones: fid, kid (+ kid_std), is (+ is_std; only with
    class logits) and precision/recall, these on ``pr`` = (real, fake) features of their own network when
    given (VGG-16 in Kynkäänniemi et al.), else on the same features."""
    out: dict[str, float] = {}
    if "fid" in scores:
        out["fid"] = frechet_distance(real, fake)
    if "kid" in scores:
        out["kid"], out["kid_std"] = kernel_distance(real, fake)
    if "is" in scores and fake_logits is not None:
        out["is"], out["is_std"] = inception_score(fake_logits)
    if "precision" in scores or "recall" in scores:
        out |= precision_recall(*(pr if pr is not None else (real, fake)), k)
    return out
