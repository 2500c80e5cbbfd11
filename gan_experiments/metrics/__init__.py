"""Metric functions and feature extractors; one idea per file."""

from gan_experiments.metrics.mode_coverage import mode_coverage

__all__ = ["mode_coverage"]
