"""What the entry points share: user errors reported as one clear message instead of a traceback."""

from __future__ import annotations

import contextlib
import errno
import sys

import torch
from omegaconf import DictConfig, OmegaConf

from gan_experiments.callbacks.nonfinite import NonFiniteLossError
from gan_experiments.config import ConfigError
from gan_experiments.data import DatasetNotFoundError
from gan_experiments.data.images import BadImageError

USER_ERRORS = (ConfigError, DatasetNotFoundError, BadImageError, NonFiniteLossError)


def out_of_memory_advice(err: torch.OutOfMemoryError, cfg: DictConfig | None) -> str:
    """What to change after a CUDA out-of-memory error, with the run's current values."""
    def value(key: str) -> str:
        found = OmegaConf.select(cfg, key, default=None) if cfg is not None else None
        return f" (now {found})" if found is not None else ""

    checkpoints = OmegaConf.select(cfg, "paths.output_dir", default=None) if cfg is not None else None
    resume = f"; {checkpoints}/checkpoints/last.ckpt is intact: resume with ckpt_path=auto" if checkpoints else ""
    return (f"out of GPU memory: {str(err).splitlines()[0]}\n"
            f"Lower data.batch_size{value('data.batch_size')}, train in mixed precision with "
            f"trainer.precision=bf16-mixed or 16-mixed{value('trainer.precision')}, use smaller networks "
            "(model.*.base_channels) or spread the batch over more GPUs (trainer=ddp)" + resume)


@contextlib.contextmanager
def report_user_errors(cfg: DictConfig | None = None):
    """Print a config, data, diverged-training, out-of-memory or disk-full error as ``error: <message>`` on stderr
    and exit with status 2 (``cfg``, when given, fills in the current values in the advice)."""
    try:
        yield
    except USER_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except torch.OutOfMemoryError as err:
        print(f"error: {out_of_memory_advice(err, cfg)}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        print(f"error: {no_space_advice(err, cfg)}", file=sys.stderr)
        raise SystemExit(2) from None


def no_space_advice(err: OSError, cfg: DictConfig | None) -> str:
    """Where the disk filled up (the file, else the run directory) and what to do."""
    run_dir = OmegaConf.select(cfg, "paths.output_dir", default=None) if cfg is not None else None
    where = err.filename or run_dir or "the run directory"
    return (f"no space left on the device while writing {where}; free some space, or write runs elsewhere "
            "with paths.log_dir=DIR (or hydra.run.dir=DIR). Checkpoints are written atomically: the last "
            "complete one is intact")


# command-line keys of an earlier config layout -> where they are now
RENAMED_KEYS = {
    "loss.optimizer_g": "model.optimizer_g",  # optimizers moved under the model (conf/optimizer/), 2026-12
    "loss.optimizer_d": "model.optimizer_d",
}


def renamed_key_errors(overrides: list[str]) -> list[str]:
    """One message per command-line override that uses a renamed key (``loss.optimizer_g.lr=1e-3``,
    ``+loss.optimizer_d.eps=...``), naming the key to use instead; Hydra would only say it does not exist."""
    errors = []
    for override in overrides:
        key = override.lstrip("+~").split("=", 1)[0]
        for old, new in RENAMED_KEYS.items():
            if key == old or key.startswith(old + "."):
                errors.append(f"{key} is now {new + key[len(old):]}: write "
                              f"{override.replace(old, new, 1)} (the optimizers are the model's, conf/optimizer/)")
    return errors


def refuse_renamed_keys(overrides: list[str]) -> None:
    """Exit with status 2 and ``error:`` lines when ``overrides`` use renamed keys (before Hydra composes)."""
    errors = renamed_key_errors(overrides)
    if errors:
        print("\n".join(f"error: {message}" for message in errors), file=sys.stderr)
        raise SystemExit(2)
