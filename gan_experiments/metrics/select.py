"""``metrics.features``: which network turns images into features (auto, inception or classifier)."""

from __future__ import annotations

from pathlib import Path

from gan_experiments.config import ConfigError
from gan_experiments.metrics.classifier import load_or_train_classifier
from gan_experiments.metrics.features import (
    INCEPTION_WEIGHTS_FILE,
    ClassifierFeatures,
    FeatureExtractor,
    InceptionFeatures,
    default_inception_weights,
    find_inception_weights,
)

CHOICES = ("auto", "inception", "classifier")


def build_extractor(features: str, datamodule=None, inception_weights: str | None = None,
                    cache_dir: str | Path = "~/.cache/gan_experiments", classifier_steps: int = 600) -> FeatureExtractor:
    """``auto`` picks Inception when its weights are found (``inception_weights`` or the torch hub cache),
    else the dataset's classifier (trained and cached on first use)."""
    if features not in CHOICES:
        raise ConfigError(f"metrics.features must be one of {', '.join(CHOICES)}, got {features!r}")
    try:
        weights = find_inception_weights(inception_weights)
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from err
    if features == "inception" or (features == "auto" and weights is not None):
        if weights is None:
            raise ConfigError(
                f"metrics.features=inception needs the InceptionV3 weights {INCEPTION_WEIGHTS_FILE}: none at "
                f"{default_inception_weights()}; set metrics.inception_weights=PATH (or use metrics.features=classifier)"
            )
        return InceptionFeatures(weights)
    if datamodule is None or not datamodule.classifier_labels()[0]:
        raise ConfigError(
            "metrics.features=classifier (the choice of 'auto' without Inception weights) needs a labelled dataset "
            "to train its classifier on; this one has no labels: set metrics.inception_weights=PATH"
        )
    classifier, info = load_or_train_classifier(datamodule, cache_dir, classifier_steps)
    extractor = ClassifierFeatures(classifier)
    extractor.info = info
    return extractor
