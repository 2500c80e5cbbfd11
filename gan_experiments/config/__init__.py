"""Config validation."""

from gan_experiments.config.validation import ConfigError, MultirunError, check_multirun_strategy, validate

__all__ = ["ConfigError", "MultirunError", "check_multirun_strategy", "validate"]
