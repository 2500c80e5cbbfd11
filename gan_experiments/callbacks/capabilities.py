"""What the pipeline and ``collect_metrics`` may ask of a callback beyond Lightning's hooks, declared by
inheriting these bases and checked with ``isinstance``: a callback that merely has a ``metrics_info``
attribute or a ``check_datamodule`` method, without declaring the base, is not asked."""

from __future__ import annotations

from typing import Any


class ChecksDataModule:
    """A callback that depends on the data: ``pipeline.train`` calls ``check_datamodule(datamodule)`` once
    the DataModule is built and before training starts; it raises ``ConfigError`` naming the key when the
    data cannot serve it (e.g. ``TranslationMetrics`` on a dataset without a validation split)."""

    def check_datamodule(self, datamodule: Any) -> None:
        raise NotImplementedError


class ReportsMetricsInfo:
    """A callback that says what produced its numbers: ``metrics_info``, a flat dict {logged key: str | int
    | float} (the protocol, the extractors' fingerprints, sample counts, e.g. ``{"val/features":
    "inception-…", "val/num_fake": 10000}``), merged into metrics.json by ``collect_metrics``."""

    metrics_info: dict[str, Any]


class HasHeadlineMetric:
    """A metrics callback with one headline score, the one ``BestCheckpoint`` keeps the best checkpoint of by
    default: ``headline_metric(datamodule)`` is its logged key (lower is better, e.g. ``val/fid``), or None
    when this data gets no such score (toy 2-D points); it is computed every ``every_n_epochs`` epochs."""

    every_n_epochs: int

    def headline_metric(self, datamodule: Any) -> str | None:
        raise NotImplementedError
