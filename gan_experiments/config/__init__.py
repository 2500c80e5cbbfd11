"""Config validation."""

from gan_experiments.config.validation import ConfigError, validate

__all__ = ["ConfigError", "validate"]
