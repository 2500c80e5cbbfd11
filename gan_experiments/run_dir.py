"""A run directory belongs to one run: a new run never starts over another run's checkpoints unless told
to, and a lock keeps a second run from writing into a directory while the first one does.

``python train.py hydra.run.dir=DIR`` where DIR holds ``checkpoints/*.ckpt`` (or a SLURM ``hpc_ckpt_*.ckpt``)
is refused unless it resumes (``ckpt_path=auto`` or a path) or says ``overwrite=true`` (the old run's
checkpoints, samples, plots and metrics are then deleted first, so the directory does not mix two runs).
``RunDirGuard`` does this as a Hydra callback, before Hydra writes its ``.hydra/`` files into DIR; ``train()``
does it again for callers that bypass Hydra, and holds ``.run.lock`` (``fcntl.flock``, released by the OS
when the process ends, even on SIGKILL) while it trains. Only global rank 0 guards and locks: DDP ranks
started by Lightning run in the same directory on purpose.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from gan_experiments.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the checkpoint guard still applies
    fcntl = None

CHECKPOINT_GLOBS = ("checkpoints/*.ckpt", "hpc_ckpt_*.ckpt")
RUN_ARTEFACTS = ("samples", "plots", "metrics.json")
LOCK_FILE = ".run.lock"


def checkpoints_in(run_dir: Path) -> list[Path]:
    """The checkpoint files of the run in ``run_dir``, newest first."""
    found = [p for pattern in CHECKPOINT_GLOBS for p in Path(run_dir).glob(pattern) if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def check_new_run(run_dir: Path, ckpt_path: str | None, overwrite: bool, clear: bool = True) -> None:
    """Refuse to start a new run (``ckpt_path=null``) in a directory that holds another run's checkpoints,
    unless ``overwrite``; with ``overwrite`` (and ``clear``), delete that run's checkpoints and artefacts."""
    if ckpt_path is not None or rank_zero_only.rank != 0:
        return
    found = checkpoints_in(run_dir)
    if found and not overwrite:
        names = ", ".join(str(p.relative_to(run_dir)) for p in found[:3])
        raise ConfigError(
            f"{run_dir} holds another run's checkpoints ({names}); a new run there would replace them. "
            "Resume it with ckpt_path=auto, start in a new directory (leave hydra.run.dir at its default), "
            "or replace that run with overwrite=true")
    if found and clear:
        for path in found:
            path.unlink()
        for name in RUN_ARTEFACTS:
            artefact = Path(run_dir) / name
            if artefact.is_dir():
                shutil.rmtree(artefact)
            elif artefact.is_file():
                artefact.unlink()


class RunDirLock:
    """An exclusive ``flock`` on ``<run_dir>/.run.lock`` holding the owner's pid. ``acquire`` raises
    ``ConfigError`` naming the pid of another process that holds it; a process that already holds it
    (through ``RunDirGuard``) is let through."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunDirLock:
        if fcntl is None or rank_zero_only.rank != 0:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            if owner == str(os.getpid()):
                return self  # held by this process already (the Hydra callback took it)
            raise ConfigError(f"another run (pid {owner or '?'}) is writing to {self.path.parent}; wait for it "
                              "to finish, or start this one in another directory") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


class RunDirGuard(Callback):
    """Hydra callback of ``train.py``: the checks of ``check_new_run`` and the run-directory lock, before
    Hydra writes ``.hydra/`` into the run directory (held until the run ends). A refusal prints one
    ``error:`` line and exits with status 2, as every user error of the entry points does."""

    def __init__(self) -> None:
        self._lock: RunDirLock | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(OmegaConf.select(config, "hydra.run.dir"))
        self._guard(lambda: check_new_run(run_dir, config.get("ckpt_path"), bool(config.get("overwrite"))))
        self._lock = RunDirLock(run_dir)
        self._guard(self._lock.acquire)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(OmegaConf.select(config, "hydra.sweep.dir"))
        if sweep_dir.is_dir():
            for job_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
                self._guard(lambda d=job_dir: check_new_run(d, config.get("ckpt_path"), bool(config.get("overwrite")),
                                                            clear=False))  # each job clears its own

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._lock is not None:
            self._lock.release()

    @staticmethod
    def _guard(check) -> None:
        try:
            check()
        except ConfigError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
