"""Evaluation during training: FID, KID, IS, precision/recall and class coverage every few epochs, and
optionally the perceptual path length (``metrics.ppl_samples`` > 0; off by default).

Under DDP every rank generates its share of one fixed latent set (no sampler padding), the features are
all-gathered, and every rank computes the same numbers as a single process would on the same images.
"""

from __future__ import annotations

from lightning import Callback, LightningModule, Trainer

from gan_experiments.callbacks.capabilities import HasHeadlineMetric, ReportsMetricsInfo
from gan_experiments.callbacks.common import epoch_is_due, rank_zero_first, update_wandb_summary
from gan_experiments.callbacks.toy2d import Toy2DEvaluation
from gan_experiments.data.capabilities import PointMixture
from gan_experiments.errors import ConfigError
from gan_experiments.latents import fixed_latents  # noqa: F401 - importable from here, as before
from gan_experiments.metrics.generator import (  # noqa: F401 - fake_features, gather_shards: importable from here
    fake_features,
    gather_shards,
    generator_scores,
    truncates_in_w,
)
from gan_experiments.metrics.inception_download import INCEPTION_URL, VGG16_URL
from gan_experiments.metrics.lpips import LPIPSDistance, lpips_distance
from gan_experiments.metrics.ppl import EPSILON, describe_protocol, metric_name, perceptual_path_length
from gan_experiments.metrics.protocols import ProtocolSetup, select_protocol, setup_protocol
from gan_experiments.metrics.select import build_extractor, vgg16_extractor
from gan_experiments.models.capabilities import StyleSpaceGenerator


class GANMetrics(Callback, ReportsMetricsInfo, HasHeadlineMetric):
    """Every ``every_n_epochs`` (and after the last epoch) the scores of an evaluation protocol, logged as
    val/fid, val/kid, val/is, val/precision, val/recall (+ val/class_kl, val/classes_covered with the
    classifier on labelled data). ``protocol=null`` (``custom``): ``num_samples`` fakes against up to
    ``num_samples`` real images of the validation split; a named protocol (``metrics.protocols``, e.g.
    ``fid50k_full``) fixes the sets, counts and networks. ``metrics_info`` (written to metrics.json and
    the W&B summary) names the protocol, the extractors and the sample counts.
    On toy2d data it reports the mode coverage metrics instead (see Toy2DEvaluation).

    ``ppl_samples`` > 0 (default 0: nothing is built or computed) adds the perceptual path length of that
    many pairs, end points, no crop (``val/ppl2_wend``; ``val/ppl2_zend`` in Z), in ``ppl_space`` (null: w for
    a StyleGAN, z otherwise), with LPIPS on the VGG-16 of ``vgg16_weights``. Seeded: under DDP every rank
    computes the same value (the whole set, not a share).
    """

    def __init__(self, features: str = "auto", num_samples: int = 10000, every_n_epochs: int = 5,
                 batch_size: int = 250, inception_weights: str | None = None,
                 cache_dir: str = "~/.cache/gan_experiments", classifier_steps: int = 600, k: int = 3,
                 seed: int = 0, samples_dir: str | None = None, inception_url: str | None = INCEPTION_URL,
                 protocol: str | None = None, protocol_num_fake: int | None = None, pr_features: str = "same",
                 vgg16_weights: str | None = None, vgg16_url: str | None = VGG16_URL, ppl_samples: int = 0,
                 ppl_space: str | None = None):
        if num_samples < 2 or every_n_epochs < 1:
            raise ValueError("metrics.num_samples must be >= 2 and metrics.every_n_epochs >= 1")
        if ppl_samples < 0 or ppl_space not in (None, "w", "z"):
            raise ConfigError(f"metrics.ppl_samples must be >= 0 (0: no PPL), got {ppl_samples}, and "
                              f"metrics.ppl_space w, z or null, got {ppl_space!r}")
        self.ppl_samples, self.ppl_space = ppl_samples, ppl_space
        self.ppl_network: LPIPSDistance | None = None
        self.protocol = select_protocol(protocol, num_samples, features, k, pr_features, protocol_num_fake)
        self.every_n_epochs, self.batch_size, self.seed = every_n_epochs, batch_size, seed
        self.inception_weights, self.inception_url, self.cache_dir = inception_weights, inception_url, cache_dir
        self.classifier_steps, self.vgg16_weights, self.vgg16_url = classifier_steps, vgg16_weights, vgg16_url
        self.toy = Toy2DEvaluation(samples_dir or ".", every_n_epochs=every_n_epochs, seed=seed)
        self.setup: ProtocolSetup | None = None
        self.metrics_info: dict = {}

    def headline_metric(self, datamodule) -> str | None:
        """val/fid, or None on toy 2-D points (mode coverage, no FID)."""
        return None if isinstance(datamodule, PointMixture) else "val/fid"

    def _is_toy(self, trainer: Trainer) -> bool:
        return isinstance(trainer.datamodule, PointMixture)

    def prepare(self, datamodule, device) -> ProtocolSetup | None:
        extractor = build_extractor(self.protocol.features, datamodule, self.inception_weights, self.cache_dir,
                                    self.classifier_steps, self.inception_url)
        return setup_protocol(self.protocol, datamodule, extractor and extractor.to(device),
                              lambda: vgg16_extractor(self.vgg16_weights, self.vgg16_url), self.cache_dir, device)

    def space_of(self, pl_module: LightningModule) -> str:
        """``ppl_space``, or w for a StyleGAN and z for other generators."""
        in_w = isinstance(pl_module, StyleSpaceGenerator) and not pl_module.num_classes
        space = self.ppl_space or ("w" if in_w else "z")
        if space == "w" and not in_w:
            raise ConfigError("metrics.ppl_space=w needs an unconditional StyleGAN (a mapping network without "
                              "labels); use metrics.ppl_space=z or null")
        return space

    def prepare_ppl(self, trainer: Trainer, pl_module: LightningModule) -> None:
        space = self.space_of(pl_module)
        self.ppl_network = rank_zero_first(trainer, lambda: lpips_distance(self.vgg16_weights, self.vgg16_url),
                                           "ppl").to(pl_module.device)
        info = {"val/ppl_protocol": describe_protocol(space, "end", EPSILON, self.ppl_samples, False),
                "val/ppl_network": self.ppl_network.fingerprint}
        self.metrics_info |= info
        update_wandb_summary(trainer, info)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._is_toy(trainer):
            return
        if self.ppl_samples:
            self.prepare_ppl(trainer, pl_module)
        self.setup = rank_zero_first(trainer, lambda: self.prepare(trainer.datamodule, pl_module.device), "gan_metrics")
        if self.setup is None:  # unlabelled data and no Inception weights: said once, nothing to compute
            return
        self.metrics_info = self.setup.info("val/") | self.metrics_info
        update_wandb_summary(trainer, self.metrics_info)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not epoch_is_due(trainer, self.every_n_epochs):
            return
        if self._is_toy(trainer):
            self.toy.on_train_epoch_end(trainer, pl_module)
            return
        if self.ppl_network is not None:
            pl_module.log(*self.evaluate_ppl(pl_module))
        if self.setup is None:
            return
        for name, value in self.evaluate(trainer, pl_module).items():
            pl_module.log(f"val/{name}", value, prog_bar=name == "fid")

    def evaluate_ppl(self, pl_module: LightningModule) -> tuple[str, float]:
        """(val/ppl2_wend or val/ppl2_zend, its value) on ``ppl_samples`` seeded pairs."""
        space = self.space_of(pl_module)
        result = perceptual_path_length(pl_module, self.ppl_network, num_samples=self.ppl_samples, space=space,
                                        sampling="end", batch_size=max(1, self.batch_size // 2), seed=self.seed,
                                        device=pl_module.device)
        return f"val/{metric_name(space, 'end', False)}", result.ppl

    def evaluate(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        scores, _, _ = generator_scores(pl_module, self.setup, self.seed, self.batch_size, trainer=trainer)
        return {k: v for k, v in scores.items() if not k.endswith("_std")}
