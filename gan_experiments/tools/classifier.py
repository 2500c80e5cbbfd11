"""``evaluate.py task=train_classifier data=NAME``: train (or find) the metrics classifier of a dataset."""

from __future__ import annotations

from omegaconf import DictConfig

from gan_experiments.metrics.classifier import load_or_train_classifier
from gan_experiments.tools.common import datamodule_of


def train_classifier_task(cfg: DictConfig) -> dict:
    datamodule = datamodule_of(cfg)
    _, info = load_or_train_classifier(datamodule, cfg.metrics.cache_dir, cfg.metrics.classifier_steps)
    return info
