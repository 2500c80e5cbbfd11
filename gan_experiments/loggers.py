"""Logger factories: W&B that goes offline by itself when no W&B login is configured."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from lightning.pytorch.loggers import Logger, WandbLogger

MODES = ("auto", "online", "offline", "disabled")


def wandb_logged_in() -> bool:
    """True when W&B credentials exist: ``$WANDB_API_KEY`` or an api.wandb.ai entry in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(os.environ.get("WANDB_BASE_URL_HOST", "api.wandb.ai")) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: str) -> str:
    """``auto`` -> ``$WANDB_MODE`` if set, else online when logged in, else offline."""
    if mode not in MODES:
        raise ValueError(f"logger.wandb.mode must be one of {MODES}, got {mode!r}")
    if mode != "auto":
        return mode
    return os.environ.get("WANDB_MODE") or ("online" if wandb_logged_in() else "offline")


def multirun_names() -> dict[str, str]:
    """Inside a Hydra multirun job: the W&B ``group`` (the sweep: task name and sweep folder) and the run
    ``name`` (this job's overrides); outside one, nothing."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return {}
    hc = HydraConfig.get()
    return {"group": f"{hc.job.name}/{Path(hc.sweep.dir).name}", "name": hc.job.override_dirname or str(hc.job.num)}


def wandb_logger(mode: str = "auto", save_dir: str = ".", **kwargs) -> WandbLogger:
    """A ``WandbLogger`` writing under ``save_dir/wandb``; ``mode`` is auto/online/offline/disabled. In a
    multirun, each job is its own run, grouped by sweep (``group`` and ``name`` default to ``multirun_names``)."""
    for key, value in multirun_names().items():
        if kwargs.get(key) is None:
            kwargs[key] = value
    resolved = resolve_wandb_mode(mode)
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(save_dir=save_dir, offline=resolved == "offline", mode=resolved, **kwargs)


def offline_wandb_runs(loggers: list[Logger]) -> list[Path]:
    """Offline W&B run folders written by these loggers (to be uploaded with ``wandb sync``)."""
    runs: list[Path] = []
    for logger in loggers:
        if isinstance(logger, WandbLogger):  # online runs are written to run-* folders
            runs += sorted(Path(logger.save_dir, "wandb").glob("offline-run-*"))
    return runs
