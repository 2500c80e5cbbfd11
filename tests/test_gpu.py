"""GPU-only checks (fp16 loss scaler paths): run with `make test-gpu` on a machine with CUDA."""

import math

import pytest
import torch

from gan_experiments.pipeline import train
from tests.helpers import FAST, SMALL_IMAGES, compose_train, small_networks

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
GPU16 = ["trainer.accelerator=gpu", "trainer.devices=1", "trainer.precision=16-mixed"]


@pytest.mark.parametrize(("loss", "penalty"), [("wgan_gp", "train/gp"), ("bce", "train/r1")])
def test_penalties_under_the_fp16_scaler(loss, penalty, tmp_path):
    extra = ["loss.r1_weight=1.0", "loss.critic_norm=layer"] if loss == "bce" else []
    metrics = train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), f"loss={loss}", *extra, *GPU16,
                                   "trainer.limit_train_batches=20"], tmp_path))
    assert math.isfinite(metrics["train/d_loss"]) and math.isfinite(metrics[penalty])


def test_metrics_under_fp16(tmp_path):
    metrics = train(compose_train([*FAST, "data.image_size=16", "data.batch_size=16", *small_networks("dcgan"),
                                   "metrics=default", "metrics.num_samples=300", "metrics.every_n_epochs=1",
                                   "metrics.classifier_steps=100", *GPU16], tmp_path))
    assert all(math.isfinite(metrics[k]) for k in ("val/fid", "val/kid", "val/is", "val/precision", "val/recall"))


def test_gradient_clipping_applies_to_unscaled_gradients_under_fp16(tmp_path):
    """With the fp16 scaler the raw gradients are multiplied by ~65536: clipping must see them unscaled."""
    from tests.rank_weights import recorded_grad_norms

    norms = recorded_grad_norms([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "loss=wgan_gp", *GPU16,
                                 "callbacks.gradient_clipping.max_norm=0.05"], tmp_path)
    # gradients left after a step are unscaled ones; clipping them to 0.05 shows it ran after unscale_
    assert norms and max(norms) <= 0.05 * (1 + 1e-3)

