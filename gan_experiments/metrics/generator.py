"""The scores of a generator against an evaluation protocol's real features, shared by the training
callback (``callbacks.gan_metrics.GANMetrics``) and the evaluation tools (``task=metrics``,
``task=truncation``).

Under DDP every rank generates its share of one fixed latent set (no sampler padding), the features are
all-gathered, and every rank computes the same numbers as a single process would on the same images.
"""

from __future__ import annotations

import math

import torch
from lightning import Trainer

from gan_experiments.latents import fixed_latents
from gan_experiments.metrics.class_coverage import class_coverage
from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.protocols import ProtocolSetup
from gan_experiments.metrics.scores import all_scores
from gan_experiments.models.capabilities import StyleSpaceGenerator


def truncates_in_w(pl_module) -> bool:
    """StyleGAN truncates in W (its ``sample`` takes ``psi``); other generators by resampling z."""
    return isinstance(pl_module, StyleSpaceGenerator)


@torch.no_grad()
def fake_features(pl_module, extractors: list[FeatureExtractor], z, labels, batch_size: int,
                  w_psi: float | None = None, truncation_layers: int | None = None):
    """[(features, logits)] of G(z, labels) for each extractor, generated once and extracted ``batch_size``
    at a time (``w_psi``: truncation in W of the first ``truncation_layers`` style layers, for generators
    that support it)."""
    outputs = [([], []) for _ in extractors]
    extra = {} if w_psi is None else {"psi": w_psi, "truncation_layers": truncation_layers}
    for i in range(0, len(z), batch_size):
        y = None if labels is None else labels[i : i + batch_size]
        images = pl_module.sample(z[i : i + batch_size], y, **extra).float()
        for extractor, (feats, logits) in zip(extractors, outputs, strict=True):
            f, lg = extractor(images)
            feats.append(f)
            logits.append(lg)
    return [(torch.cat(feats), torch.cat(logits)) for feats, logits in outputs]


def gather_shards(trainer: Trainer | None, local: torch.Tensor, total: int) -> torch.Tensor:
    """Reassemble rows i = rank + world * j, computed on each rank, into [total, ...] in index order."""
    if trainer is None or trainer.world_size == 1:
        return local[:total]
    gathered = trainer.strategy.all_gather(local)  # [world, per_rank, ...]
    ordered = gathered.transpose(0, 1).reshape(-1, *local.shape[1:])  # row j*world + r = index r + world*j
    return ordered[:total]


def generator_scores(pl_module, setup: ProtocolSetup, seed: int = 0, batch_size: int = 250, psi: float | None = None,
                     trainer: Trainer | None = None, truncation_layers: int | None = None):
    """The protocol's scores of the generator of ``pl_module`` on ``num_fake`` fixed latents against the
    protocol's real features (precision/recall on their own network's features when it has one).

    With a distributed ``trainer``, each rank generates the latents i = rank + world * j (the last rank's
    missing rows padded with a copy, dropped after gathering) and every rank returns the same numbers as
    a single process. Returns (scores, fake features, fake logits).
    """
    protocol, extractor, real = setup.protocol, setup.extractor, setup.real
    num_samples = protocol.num_fake
    labels = real.labels if pl_module.num_classes else None  # class labels [N] of the real images
    in_w = truncates_in_w(pl_module)
    z, y = fixed_latents(num_samples, pl_module.latent_dim, labels, seed, None if in_w else psi)
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    per_rank = math.ceil(num_samples / world)
    index = torch.arange(rank, per_rank * world, world).clamp_max(num_samples - 1)
    extractors = [extractor] + ([setup.pr_extractor] if setup.pr_extractor is not None else [])
    outputs = fake_features(pl_module, extractors, z[index], None if y is None else y[index], batch_size,
                            psi if in_w else None, truncation_layers)
    (feats, logits), *pr = [(gather_shards(trainer, f, num_samples).cpu(), gather_shards(trainer, lg, num_samples).cpu())
                            for f, lg in outputs]
    pr_features = (setup.pr_real.features, pr[0][0]) if pr else None
    scores = all_scores(real.features, feats, None if extractor.multilabel else logits, protocol.k, protocol.scores,
                        pr_features)
    if extractor.name == "classifier" and not extractor.multilabel and protocol.name == "custom":
        scores |= class_coverage(logits, real.labels, logits.shape[1])
    return scores, feats, logits
