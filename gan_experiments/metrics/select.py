"""``metrics.features``: which network turns images into features (auto, inception or classifier)."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.utilities import rank_zero_warn

from gan_experiments.errors import ConfigError
from gan_experiments.metrics.classifier import load_or_train_classifier
from gan_experiments.metrics.features import (
    INCEPTION_WEIGHTS_FILE,
    VGG16_WEIGHTS_FILE,
    ClassifierFeatures,
    FeatureExtractor,
    InceptionFeatures,
    VGG16Features,
    default_inception_weights,
    find_weights,
    hub_weights,
)
from gan_experiments.metrics.inception_download import (
    INCEPTION_URL,
    VGG16_URL,
    DownloadError,
    cached_weights_path,
    download_weights,
)

CHOICES = ("auto", "inception", "classifier")


def weights_for(path: str | None, url: str | None, file_name: str, option: str) -> tuple[Path | None, str]:
    """Usable weights: ``path`` if given (it must exist), else the torch hub cache's ``file_name``, else a
    download of ``url`` into it (None or '': never download). (path, "") or (None, why not)."""
    try:
        weights = find_weights(path, file_name, option)
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from err
    if weights is not None:
        return weights, ""
    url_option = option.replace("_weights", "_url")
    if not url:
        return None, f"none at {hub_weights(file_name)} and metrics.{url_option} is empty (no download)"
    if cached_weights_path(url).is_file():
        return cached_weights_path(url), ""
    try:
        return download_weights(url), ""
    except DownloadError as err:
        return None, f"none at {hub_weights(file_name)} and the download failed: {err}"


def inception_weights_for(inception_weights: str | None, inception_url: str | None) -> tuple[Path | None, str]:
    return weights_for(inception_weights, inception_url, INCEPTION_WEIGHTS_FILE, "inception_weights")


def vgg16_extractor(vgg16_weights: str | None, vgg16_url: str | None = VGG16_URL) -> VGG16Features:
    """VGG-16 for precision/recall (``pr50k3_full``, ``metrics.pr_features=vgg16``), or a ConfigError."""
    weights, why_not = weights_for(vgg16_weights, vgg16_url, VGG16_WEIGHTS_FILE, "vgg16_weights")
    if weights is None:
        raise ConfigError(f"precision/recall on VGG-16 features needs {VGG16_WEIGHTS_FILE}: {why_not}; set "
                          "metrics.vgg16_weights=PATH (or metrics.pr_features=same)")
    return VGG16Features(weights)


def build_extractor(features: str, datamodule=None, inception_weights: str | None = None,
                    cache_dir: str | Path = "~/.cache/gan_experiments", classifier_steps: int = 600,
                    inception_url: str | None = INCEPTION_URL) -> FeatureExtractor | None:
    """``inception``: InceptionV3 (``inception_weights_for``), or a ``ConfigError`` saying why not.
    ``classifier``: the dataset's classifier (trained and cached on first use). ``auto``: Inception when
    its weights are there or can be downloaded, else, with a one-line warning saying why, the classifier
    on labelled data, or None on unlabelled data (no extractor: the caller skips the FID family)."""
    if features not in CHOICES:
        raise ConfigError(f"metrics.features must be one of {', '.join(CHOICES)}, got {features!r}")
    labelled = datamodule is not None and bool(datamodule.classifier_labels()[0])
    weights, why_not = inception_weights_for(inception_weights, inception_url) if features != "classifier" else (None, "")
    if weights is not None:
        return InceptionFeatures(weights)
    if features == "inception":
        raise ConfigError(f"metrics.features=inception needs the InceptionV3 weights {INCEPTION_WEIGHTS_FILE}: "
                          f"{why_not}; set metrics.inception_weights=PATH (or use metrics.features=classifier)")
    if not labelled:
        if features == "classifier":
            raise ConfigError("metrics.features=classifier needs a labelled dataset to train its classifier on; "
                              "this one has no labels: use metrics.features=inception")
        rank_zero_warn(f"metrics.features=auto: no InceptionV3 weights ({why_not}) and no labels to train a "
                       f"classifier on, so FID, KID, IS and precision/recall are skipped (samples and checkpoints "
                       f"are still written); to have them, put {INCEPTION_WEIGHTS_FILE} in "
                       f"{default_inception_weights().parent} or set metrics.inception_weights=PATH")
        return None
    if features == "auto":
        rank_zero_warn(f"metrics.features=auto: no InceptionV3 weights ({why_not}); using a classifier trained on "
                       "this dataset's labels instead (its FIDs are not comparable with published ones)")
    classifier, info = load_or_train_classifier(datamodule, cache_dir, classifier_steps)
    extractor = ClassifierFeatures(classifier)
    extractor.info = info
    return extractor
