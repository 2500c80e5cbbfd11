"""Config validation and the project's config resolvers (``${default_precision:}``)."""

from gan_experiments.config.precision import register as _register_resolvers
from gan_experiments.config.validation import ConfigError, MultirunError, check_multirun_strategy, validate

_register_resolvers()

__all__ = ["ConfigError", "MultirunError", "check_multirun_strategy", "validate"]
