"""Named evaluation protocols: which images, how many, which network and which scores make a reported number.

A FID is comparable with another only under the same protocol. The names are the field's:

- NVlabs stylegan2-ada ``metrics/metric_main.py``: ``fid50k_full`` (50k generated against the whole
  training set), ``kid50k_full`` (the same sets; 100 subsets of 1,000), ``pr50k3_full`` (improved
  precision/recall, Kynkäänniemi et al. 2019: VGG-16 features, k = 3, up to 200k real images), ``is50k``
  (50k generated, 10 splits), and the older ``fid50k`` (50k against 50k training images); all with
  InceptionV3 (torch-fidelity's 2015-12-05 weights, the TF FID code's network) except PR's VGG-16.
- PyTorch-StudioGAN's tables: ``studiogan_test``, 50k generated against the whole test split, IS, FID and
  precision/recall (k = 3 here) on Inception features.

``protocol=null`` is this project's own quick protocol, named ``custom`` and described by its settings:
``metrics.num_samples`` generated against as many images of the validation split, ``metrics.features``.
``num_fake`` may shrink a named protocol for a smoke test; the name then says so (and it is not that
protocol any more).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from gan_experiments.metrics.features import FeatureExtractor
from gan_experiments.metrics.reference import RealFeatures, real_features
from gan_experiments.metrics.scores import SCORES


@dataclass(frozen=True)
class Protocol:
    name: str
    num_fake: int
    real_split: str  # "train": the whole training set; "val": the validation / test split
    max_real: int | None  # None: every image of the split
    features: str  # extractor of FID, KID and IS: auto, inception or classifier
    scores: tuple[str, ...]
    pr_features: str = "same"  # "vgg16": precision/recall on VGG-16 fc2 features (Kynkäänniemi et al.)
    k: int = 3
    source: str = "gan_experiments"

    def describe(self, num_real: int, features: str) -> str:
        """One line naming everything that decides the numbers (``features``: the extractor's fingerprint)."""
        split = {"train": "training", "val": "validation/test"}[self.real_split]
        pr = "; precision/recall on VGG-16 features" if self.pr_features == "vgg16" and "precision" in self.scores else ""
        return (f"{self.name}: {', '.join(self.scores)} of {self.num_fake} generated vs {num_real} {split} "
                f"images, {features} features{pr}, k={self.k} ({self.source})")

    def real_set(self, datamodule):
        return datamodule.train_set if self.real_split == "train" else datamodule.val_set


NVLABS = "NVlabs stylegan2-ada metric_main"
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("fid50k_full", 50_000, "train", None, "inception", ("fid",), source=NVLABS),
    Protocol("kid50k_full", 50_000, "train", None, "inception", ("kid",), source=NVLABS),
    Protocol("pr50k3_full", 50_000, "train", 200_000, "inception", ("precision", "recall"), pr_features="vgg16",
             k=3, source=NVLABS),
    Protocol("is50k", 50_000, "train", None, "inception", ("is",), source=NVLABS),
    Protocol("fid50k", 50_000, "train", 50_000, "inception", ("fid",), source=NVLABS),
    Protocol("studiogan_test", 50_000, "val", None, "inception", ("fid", "is", "precision", "recall"),
             source="PyTorch-StudioGAN, test split"),
)}


def select_protocol(name: str | None, num_samples: int, features: str, k: int = 3, pr_features: str = "same",
                    num_fake: int | None = None) -> Protocol:
    """The named protocol (``num_fake`` shrinks it, renamed to say so), or ``custom`` from the settings."""
    if name is None:
        return Protocol("custom", num_samples, "val", num_samples, features, SCORES, pr_features, k)
    if name not in PROTOCOLS:
        from gan_experiments.errors import ConfigError

        raise ConfigError(f"metrics.protocol={name!r} is not a protocol; choose one of {', '.join(PROTOCOLS)} or null")
    protocol = PROTOCOLS[name]
    if num_fake is not None and num_fake != protocol.num_fake:
        protocol = replace(protocol, name=f"{name}@{num_fake}_generated", num_fake=num_fake)
    return protocol


@dataclass
class ProtocolSetup:
    """A protocol made ready on a dataset: its extractor and real features (and precision/recall's)."""

    protocol: Protocol
    extractor: FeatureExtractor
    real: RealFeatures
    pr_extractor: FeatureExtractor | None = None
    pr_real: RealFeatures | None = None

    def info(self, prefix: str = "") -> dict:
        """What produced the numbers, stored beside them (metrics.json, the W&B summary, evaluate's JSON)."""
        p = self.protocol
        info = {f"{prefix}protocol": p.name, f"{prefix}protocol_description": p.describe(len(self.real), self.extractor.fingerprint),
                f"{prefix}features": self.extractor.fingerprint, f"{prefix}num_real": len(self.real),
                f"{prefix}num_fake": p.num_fake}
        if self.pr_extractor is not None:
            info[f"{prefix}pr_features"] = self.pr_extractor.fingerprint
        return info


def setup_protocol(protocol: Protocol, datamodule, extractor: FeatureExtractor | None,
                   pr_extractor: Callable[[], FeatureExtractor], cache_dir: str | Path,
                   device="cpu") -> ProtocolSetup | None:
    """Real features of ``protocol``'s image set (``extractor``, and ``pr_extractor()`` when precision/recall
    want VGG-16); None when there is no extractor (unlabelled data without Inception weights)."""
    if extractor is None:
        return None
    images = protocol.real_set(datamodule)
    real = real_features(extractor, images, protocol.max_real, cache_dir, device)
    if protocol.pr_features != "vgg16" or not {"precision", "recall"} & set(protocol.scores):
        return ProtocolSetup(protocol, extractor, real)
    pr = pr_extractor().to(device)
    return ProtocolSetup(protocol, extractor, real, pr, real_features(pr, images, protocol.max_real, cache_dir, device))
