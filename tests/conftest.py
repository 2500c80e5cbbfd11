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
# Metric classifiers and real-feature caches of this test session (hermetic; shared by its tests).
os.environ.setdefault("GAN_CACHE_DIR", tempfile.mkdtemp(prefix="gan_test_cache_"))

from tests.helpers import SHARED_DATA  # noqa: E402


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
