"""Test set-up: W&B off, the real-data fixture, and the synthetic datasets (tests/synthetic.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# W&B stays off in tests except in the test of W&B logging itself (which sets its own mode).
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
# No InceptionV3 download from the internet in tests (the download is tested against a local server).
os.environ.setdefault("GAN_INCEPTION_URL", "")
os.environ.setdefault("GAN_VGG16_URL", "")
# Metric classifiers and real-feature caches of this test session (hermetic; shared by its tests, and by
# the pytest-xdist workers, which inherit the variable from the process that starts them).
os.environ.setdefault("GAN_CACHE_DIR", tempfile.mkdtemp(prefix="gan_test_cache_"))


def _share_the_cores_between_workers() -> None:
    """Under pytest-xdist (`make test` runs a worker per core) each worker and the train.py / evaluate.py
    processes it starts get cores / workers torch threads, instead of every process spinning a thread on
    every core."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # macOS
        threads = max(1, cores // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)


_share_the_cores_between_workers()

from tests.helpers import SHARED_DATA  # noqa: E402

# Files whose tests take minutes, longest first (seconds per file in a serial run of the suite on 2 cores,
# 2026-12-05: toy2d 2139, translation 684, evaluation 677, conditional discriminators 571, fp16 523, training
# 441, ddp 325, stylegan_realdata 274), collected before the rest: pytest-xdist hands out whole files in
# collection order, and a long file handed out last runs alone on one core at the end.
LONG_FILES_FIRST = ("test_toy2d.py", "test_translation.py", "test_evaluation.py", "test_conditional_discriminators.py",
                    "test_fp16.py", "test_training.py", "test_ddp.py", "test_stylegan_realdata.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES_FIRST)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $GAN_SHARED_DATA); the test is skipped when it is absent."""
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set GAN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """Small synthetic datasets in every layout the data modules read (tests/synthetic.py), written once per
    session: unpaired A/B, paired A|B, a labelled image folder and CelebA's subset layout."""
    from tests.synthetic import write_all

    return write_all(tmp_path_factory.mktemp("synthetic"))
