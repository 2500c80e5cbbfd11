"""Where a run writes: only its run directory, the data root and the caches the README documents.

``train.py`` (W&B offline, metrics with the digits classifier) and ``evaluate.py task=samples`` run as a
user would, from an empty working directory with their own HOME, caches and temp dir; afterwards every
new or changed file must lie under ``<cwd>/logs`` (Hydra's run directories), ``$GAN_CACHE_DIR``,
``$TORCH_HOME`` or the libraries' own user caches the README lists (W&B's service logs in ``~/.cache/wandb``,
matplotlib's font list in ``~/.cache/matplotlib``), and the checkout must be untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

SKIP_IN_CHECKOUT = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}


def files_under(root: Path, skip: set[str] = frozenset()) -> dict[Path, tuple[int, int]]:
    """Every file below ``root`` (pruning directories named in ``skip``) with its size and mtime."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in names:
            path = Path(folder, name)
            if path.is_file():
                stat = path.stat()
                found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def run_cli(script: str, args: list[str], cwd: Path, env: dict) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.serial  # another test writing in the checkout meanwhile would look like this run's write
def test_train_and_evaluate_write_only_run_dirs_and_documented_caches(tmp_path):
    cwd, home, cache, torch_home, tmp = (tmp_path / name for name in ("cwd", "home", "cache", "torch", "tmp"))
    for folder in (cwd, home, tmp):
        folder.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WANDB_", "XDG_", "GAN_"))}
    env.update(HOME=str(home), GAN_CACHE_DIR=str(cache), TORCH_HOME=str(torch_home), TMPDIR=str(tmp),
               WANDB_MODE="offline", WANDB_SILENT="true", PYTHONDONTWRITEBYTECODE="1")
    checkout_before = files_under(ROOT, SKIP_IN_CHECKOUT)

    run_cli("train.py", ["data=digits", "trainer.max_epochs=1", "trainer.limit_train_batches=4",
                         "model.generator.base_channels=8", "model.discriminator.base_channels=8",
                         "metrics.every_n_epochs=1", "metrics.num_samples=100", "metrics.classifier_steps=20",
                         "trainer.enable_progress_bar=false", "logger=wandb"], cwd, env)
    (checkpoint,) = cwd.glob("logs/train/runs/*/checkpoints/last.ckpt")
    run_cli("evaluate.py", ["task=samples", f"ckpt={checkpoint}", "num_images=8"], cwd, env)

    assert files_under(ROOT, SKIP_IN_CHECKOUT) == checkout_before, "the run changed files in the checkout"
    written = [p.relative_to(tmp_path) for p in files_under(tmp_path) if not p.is_relative_to(tmp)]
    allowed = (Path("cwd/logs"), Path("cache"), Path("torch"), Path("home/.cache/wandb"),
               Path("home/.cache/matplotlib"))
    outside = [str(p) for p in written if not any(p.is_relative_to(a) for a in allowed)]
    assert outside == [], f"files written outside the run directories and documented caches: {outside}"
    # what the run is documented to produce is where it belongs
    assert any(cwd.glob("logs/train/runs/*/wandb/offline-run-*/*.wandb"))
    assert any(cwd.glob("logs/evaluate/runs/*/images/*.png"))
    assert any(cache.rglob("*.pt")), "the metrics classifier and real features belong in $GAN_CACHE_DIR"
