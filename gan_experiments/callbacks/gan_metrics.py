"""Evaluation during training: FID, KID, IS, precision/recall and class coverage every few epochs.

Under DDP every rank generates its share of one fixed latent set (no sampler padding), the features are
all-gathered, and every rank computes the same numbers as a single process would on the same images.
"""

from __future__ import annotations

import math

import torch
from lightning import Callback, LightningModule, Trainer

from gan_experiments.callbacks.common import epoch_is_due, rank_zero_first, update_wandb_summary
from gan_experiments.callbacks.toy2d import Toy2DEvaluation
from gan_experiments.metrics.class_coverage import class_coverage
from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.inception_download import INCEPTION_URL, VGG16_URL
from gan_experiments.metrics.protocols import ProtocolSetup, select_protocol, setup_protocol
from gan_experiments.metrics.scores import all_scores
from gan_experiments.metrics.select import build_extractor, vgg16_extractor
from gan_experiments.tools.latents import truncated_normal


def fixed_latents(n: int, latent_dim: int, labels: torch.Tensor | None, seed: int, psi: float | None = None):
    """z [n, latent_dim] (truncated at ``psi`` if given) and, for conditional models, labels [n] resampled
    from ``labels`` (the real class distribution), from a seeded generator: the same evaluation set at every
    epoch and on every rank."""
    gen = torch.Generator().manual_seed(seed)
    z = truncated_normal(n, latent_dim, psi, gen)
    if labels is None:
        return z, None
    return z, labels[torch.randint(len(labels), (n,), generator=gen)]


def truncates_in_w(pl_module) -> bool:
    """StyleGAN truncates in W (its ``sample`` takes ``psi``); other generators by resampling z."""
    return getattr(pl_module, "truncation_space", "z") == "w"


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


class GANMetrics(Callback):
    """Every ``every_n_epochs`` (and after the last epoch) the scores of an evaluation protocol, logged as
    val/fid, val/kid, val/is, val/precision, val/recall (+ val/class_kl, val/classes_covered with the
    classifier on labelled data). ``protocol=null`` (``custom``): ``num_samples`` fakes against up to
    ``num_samples`` real images of the validation split; a named protocol (``metrics.protocols``, e.g.
    ``fid50k_full``) fixes the sets, counts and networks. ``metrics_info`` (written to metrics.json and
    the W&B summary) names the protocol, the extractors and the sample counts.
    On toy2d data it reports the mode coverage metrics instead (see Toy2DEvaluation).
    """

    def __init__(self, features: str = "auto", num_samples: int = 10000, every_n_epochs: int = 5,
                 batch_size: int = 250, inception_weights: str | None = None,
                 cache_dir: str = "~/.cache/gan_experiments", classifier_steps: int = 600, k: int = 3,
                 seed: int = 0, samples_dir: str | None = None, inception_url: str | None = INCEPTION_URL,
                 protocol: str | None = None, protocol_num_fake: int | None = None, pr_features: str = "same",
                 vgg16_weights: str | None = None, vgg16_url: str | None = VGG16_URL):
        if num_samples < 2 or every_n_epochs < 1:
            raise ValueError("metrics.num_samples must be >= 2 and metrics.every_n_epochs >= 1")
        self.protocol = select_protocol(protocol, num_samples, features, k, pr_features, protocol_num_fake)
        self.every_n_epochs, self.batch_size, self.seed = every_n_epochs, batch_size, seed
        self.inception_weights, self.inception_url, self.cache_dir = inception_weights, inception_url, cache_dir
        self.classifier_steps, self.vgg16_weights, self.vgg16_url = classifier_steps, vgg16_weights, vgg16_url
        self.toy = Toy2DEvaluation(samples_dir or ".", every_n_epochs=every_n_epochs, seed=seed)
        self.setup: ProtocolSetup | None = None
        self.metrics_info: dict = {}

    def _is_toy(self, trainer: Trainer) -> bool:
        return hasattr(trainer.datamodule, "centres")

    def prepare(self, datamodule, device) -> ProtocolSetup | None:
        extractor = build_extractor(self.protocol.features, datamodule, self.inception_weights, self.cache_dir,
                                    self.classifier_steps, self.inception_url)
        return setup_protocol(self.protocol, datamodule, extractor and extractor.to(device),
                              lambda: vgg16_extractor(self.vgg16_weights, self.vgg16_url), self.cache_dir, device)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._is_toy(trainer):
            return
        self.setup = rank_zero_first(trainer, lambda: self.prepare(trainer.datamodule, pl_module.device), "gan_metrics")
        if self.setup is None:  # unlabelled data and no Inception weights: said once, nothing to compute
            return
        self.metrics_info = self.setup.info("val/")
        update_wandb_summary(trainer, self.metrics_info)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not epoch_is_due(trainer, self.every_n_epochs):
            return
        if self._is_toy(trainer):
            self.toy.on_train_epoch_end(trainer, pl_module)
            return
        if self.setup is None:
            return
        for name, value in self.evaluate(trainer, pl_module).items():
            pl_module.log(f"val/{name}", value, prog_bar=name == "fid")

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        scores, _, _ = generator_scores(pl_module, self.setup, self.seed, self.batch_size, trainer=trainer)
        return {k: v for k, v in scores.items() if not k.endswith("_std")}
