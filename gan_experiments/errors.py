"""The project's user-facing errors, importable from every layer (``gan_experiments.config`` re-exports them)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value is wrong; the message names the key, the value and what is accepted."""


class MultirunError(ConfigError):
    """A multirun setting that is wrong for every job of the sweep (so the sweep stops at once)."""
