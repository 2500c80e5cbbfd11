"""Config validation and the project's config resolvers (``config/resolvers.py``).

``ConfigError`` and ``MultirunError`` live in ``gan_experiments.errors`` (so every layer can raise them
without importing the validation, which knows every group); they are importable from here as before.
"""

from gan_experiments.config.resolvers import register as _register_resolvers
from gan_experiments.config.validation import check_multirun_strategy, validate
from gan_experiments.errors import ConfigError, MultirunError

_register_resolvers()

__all__ = ["ConfigError", "MultirunError", "check_multirun_strategy", "validate"]
