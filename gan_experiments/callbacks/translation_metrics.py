"""Evaluation of image-to-image translation models during training, on the evaluation split.

Unpaired data (CycleGAN): val/fid_a2b (G(test A) against the real test B images), val/fid_b2a, and
val/domain_accuracy_a2b (the share of G(test A) that the A-vs-B domain classifier calls B), _b2a.
Paired data (pix2pix): val/l1, val/psnr, val/ssim of G(x) against the ground truth y (mean over the split)
and val/fid (G(x) against the targets y).

Features come from InceptionV3 when its weights are found, else from the dataset's domain classifier
(see ``metrics.select``); ``metrics_info`` names the extractor. Under DDP each rank translates the images
i = rank + world * j, results are all-gathered, and every rank logs the numbers a single process would.
"""

from __future__ import annotations

import math

import torch
from lightning import Callback, LightningModule, Trainer
from torch.utils.data import Dataset, Subset

from gan_experiments.callbacks.capabilities import ChecksDataModule, HasHeadlineMetric, ReportsMetricsInfo
from gan_experiments.callbacks.common import epoch_is_due, rank_zero_first, update_wandb_summary
from gan_experiments.data import PairedDataModule, UnpairedDataModule
from gan_experiments.data.loaders import make_loader
from gan_experiments.errors import ConfigError
from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.generator import gather_shards
from gan_experiments.metrics.inception_download import INCEPTION_URL
from gan_experiments.metrics.reference import RealFeatures, real_features
from gan_experiments.metrics.scores import frechet_distance
from gan_experiments.metrics.select import build_extractor
from gan_experiments.metrics.translation import domain_accuracy, paired_scores

DOMAINS = {"a2b": (0, 1), "b2a": (1, 0)}  # direction -> (source domain, target domain)


def sharded_map(trainer: Trainer | None, dataset: Dataset, limit: int, batch_size: int, fn) -> dict[str, torch.Tensor]:
    """``fn(batch) -> {name: [n, ...]}`` over the first ``limit`` items of ``dataset``, split across ranks,
    gathered back in dataset order on every rank."""
    total = min(limit, len(dataset))
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    per_rank = math.ceil(total / world)
    index = torch.arange(rank, per_rank * world, world).clamp_max(total - 1)  # the last rank pads with a copy
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in make_loader(Subset(dataset, index.tolist()), batch_size):
        for name, value in fn(batch).items():
            parts.setdefault(name, []).append(value)
    return {name: gather_shards(trainer, torch.cat(values), total).cpu() for name, values in parts.items()}


class TranslationMetrics(Callback, ChecksDataModule, ReportsMetricsInfo, HasHeadlineMetric):
    """Every ``every_n_epochs`` and after the last epoch: the scores above on up to ``num_samples`` images
    per domain of the evaluation split, translated ``batch_size`` at a time."""

    def __init__(self, features: str = "auto", num_samples: int = 1000, every_n_epochs: int = 5, batch_size: int = 8,
                 inception_weights: str | None = None, cache_dir: str = "~/.cache/gan_experiments",
                 classifier_steps: int = 600, inception_url: str | None = INCEPTION_URL):
        if num_samples < 2 or every_n_epochs < 1:
            raise ValueError("metrics.num_samples must be >= 2 and metrics.every_n_epochs >= 1")
        self.features, self.num_samples, self.every_n_epochs = features, num_samples, every_n_epochs
        self.batch_size, self.inception_weights, self.cache_dir = batch_size, inception_weights, cache_dir
        self.classifier_steps, self.inception_url = classifier_steps, inception_url
        self.extractor: FeatureExtractor | None = None
        self.domain_classifier: FeatureExtractor | None = None
        self.real: dict[int, RealFeatures] = {}
        self.metrics_info: dict = {}

    def headline_metric(self, datamodule) -> str | None:
        """val/fid_a2b on unpaired data (CycleGAN: A -> B), val/fid on paired data (pix2pix)."""
        return "val/fid_a2b" if isinstance(datamodule, UnpairedDataModule) else "val/fid"

    def check_datamodule(self, datamodule) -> None:
        if not isinstance(datamodule, (PairedDataModule, UnpairedDataModule)):
            raise ConfigError(
                f"metrics=translation evaluates image-to-image models on paired or unpaired data, not "
                f"{type(datamodule).__name__}: use data=horse2zebra/unpaired (cyclegan) or data=facades/paired (pix2pix)"
            )

    def _extractor(self, features: str, datamodule) -> FeatureExtractor:
        return build_extractor(features, datamodule, self.inception_weights, self.cache_dir, self.classifier_steps,
                               self.inception_url)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        dm = trainer.datamodule
        first = lambda fn: rank_zero_first(trainer, fn, "translation_metrics")  # noqa: E731
        self.extractor = first(lambda: self._extractor(self.features, dm)).to(pl_module.device)
        self.metrics_info = {"val/features": self.extractor.fingerprint, "val/test_mode": pl_module.test_mode}
        if isinstance(dm, UnpairedDataModule):
            self.domain_classifier = self.extractor
            if self.extractor.name != "classifier":
                self.domain_classifier = first(lambda: self._extractor("classifier", dm))
                self.domain_classifier.to(pl_module.device)
            for domain in (0, 1):
                self.real[domain] = first(lambda d=domain: real_features(
                    self.extractor, dm.domain_set("test", d), self.num_samples, self.cache_dir, pl_module.device))
            self.metrics_info |= {"val/num_a": len(self.real[0]), "val/num_b": len(self.real[1])}
        else:
            self.metrics_info["val/num_pairs"] = min(self.num_samples, len(dm.val_set))
        update_wandb_summary(trainer, self.metrics_info)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not epoch_is_due(trainer, self.every_n_epochs):
            return
        for name, value in self.evaluate(trainer, pl_module).items():
            pl_module.log(f"val/{name}", value, prog_bar=name in ("fid", "fid_a2b"))

    def evaluate(self, trainer: Trainer | None, pl_module: LightningModule) -> dict[str, float]:
        dm = trainer.datamodule if trainer is not None else None
        if isinstance(dm, UnpairedDataModule):
            return self.unpaired_scores(trainer, pl_module, dm)
        return self.paired_scores(trainer, pl_module, dm.val_set)

    def unpaired_scores(self, trainer, pl_module, dm: UnpairedDataModule) -> dict[str, float]:
        scores = {}
        for direction, (source, target) in DOMAINS.items():
            def translated(batch, direction=direction):
                fakes = pl_module.translate(batch[0], direction)
                features, _ = self.extractor(fakes.float())
                _, logits = self.domain_classifier(fakes.float())
                return {"features": features, "logits": logits}

            out = sharded_map(trainer, dm.domain_set("test", source), self.num_samples, self.batch_size, translated)
            scores[f"fid_{direction}"] = frechet_distance(self.real[target].features, out["features"])
            scores[f"domain_accuracy_{direction}"] = domain_accuracy(out["logits"], target)
        return scores

    def paired_scores(self, trainer, pl_module, pairs: Dataset) -> dict[str, float]:
        def translated(batch):
            x, y = batch
            outputs = pl_module.translate(x, "a2b")
            y = y.to(outputs.device)
            return paired_scores(outputs, y) | {"fake": self.extractor(outputs.float())[0],
                                                "real": self.extractor(y.float())[0]}

        out = sharded_map(trainer, pairs, self.num_samples, self.batch_size, translated)
        return {"l1": out["l1"].mean().item(), "psnr": out["psnr"].mean().item(), "ssim": out["ssim"].mean().item(),
                "fid": frechet_distance(out["real"], out["fake"])}
