"""What the entry points share: user errors reported as one clear message instead of a traceback."""

from __future__ import annotations

import contextlib
import sys

from gan_experiments.callbacks.nonfinite import NonFiniteLossError
from gan_experiments.config import ConfigError
from gan_experiments.data import DatasetNotFoundError
from gan_experiments.data.images import BadImageError

USER_ERRORS = (ConfigError, DatasetNotFoundError, BadImageError, NonFiniteLossError)


@contextlib.contextmanager
def report_user_errors():
    """Print a config, data or diverged-training error as ``error: <message>`` on stderr and exit with status 2."""
    try:
        yield
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
