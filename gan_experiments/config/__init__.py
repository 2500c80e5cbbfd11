"""Config validation."""

from gan_experiments.config.validation import ConfigError, check_multirun_strategy, validate

__all__ = ["ConfigError", "check_multirun_strategy", "validate"]
