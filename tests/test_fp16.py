"""fp16 mixed precision with a real loss scaler, on the CPU (``trainer=fp16_cpu``: Lightning's
``MixedPrecision("16-mixed", "cpu", GradScaler("cpu"))``, initial scale 65536, as on a GPU; Lightning's
own ``precision=16-mixed`` on a CPU would silently train in bf16 with no scaler)."""

from __future__ import annotations

import math

import pytest
import torch
from lightning import Callback

from gan_experiments.pipeline import train
from tests.helpers import (
    FAST,
    SMALL_IMAGES,
    compose_train,
    recorded_training,
    small_networks,
    write_image_folders,
)

FP16 = ["trainer=fp16_cpu"]
IMAGE_LOSSES = ["bce", "lsgan", "hinge", "wgan_clip", "wgan_gp", "logistic_r1"]
PLAIN_LOSSES = ["bce", "lsgan", "hinge"]  # the models whose D has no critic penalty (README)


class FirstBatchLosses(Callback):
    """Test helper: writes the losses of batch 0 (the returned, detached values) to ``path``."""

    def __init__(self, path: str):
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 0:
            torch.save({k: float(v) for k, v in outputs.items()}, self.path)


@pytest.mark.parametrize(("model", "loss", "penalty"), [
    ("dcgan", "wgan_gp", "gp"),
    ("dcgan", "logistic_r1", "r1"),
    ("stylegan", "logistic_r1", "r1"),
])
def test_penalties_under_the_fp16_scaler_equal_fp32_at_step_0(model, loss, penalty, tmp_path):
    """Batch 0 of the same seed in fp32 and in fp16 + GradScaler(65536): same penalty to fp16 precision.
    (Scaling D's summed output by the scale before autograd.grad made it NaN: 65536 > fp16's 65504.)"""
    values = {}
    for name, precision in {"fp32": [], "fp16": FP16}.items():
        out = tmp_path / name
        record = out / "batch0.pt"
        train(compose_train([*FAST, *SMALL_IMAGES, *small_networks(model), f"model={model}", f"loss={loss}",
                             "trainer.limit_train_batches=1", *precision, "seed=3",
                             "+callbacks.first._target_=tests.test_fp16.FirstBatchLosses",
                             f"+callbacks.first.path={record}"], out))
        values[name] = torch.load(record)
    assert math.isfinite(values["fp16"][penalty]) and values["fp32"][penalty] > 1e-6
    assert values["fp16"][penalty] == pytest.approx(values["fp32"][penalty], rel=2e-2)
    assert values["fp16"]["d_loss"] == pytest.approx(values["fp32"]["d_loss"], rel=2e-2, abs=1e-2)


def assert_every_network_trained(record: dict, min_fraction: float = 0.8) -> None:
    for optimizer in record["optimizers"]:
        assert optimizer["stepped"] and optimizer["changed_fraction"] >= min_fraction, optimizer
    owned = {name for optimizer in record["optimizers"] for name in optimizer["owns"]}
    assert owned <= set(record["changed_modules"]), record


def fp16_run(model: str, loss: str | None, tmp_path, *extra: str) -> dict:
    """Enough batches for the scaler to settle (it skips the first overflowing steps, halving its scale)
    and for G to step under 5 critic steps."""
    overrides = [*FAST, *SMALL_IMAGES, *small_networks(model), f"model={model}", *FP16,
                 "trainer.limit_train_batches=16", *extra]
    return recorded_training(overrides + ([f"loss={loss}"] if loss else []), tmp_path)


FAST_PAIRS = [("dcgan", "wgan_gp"), ("stylegan", "logistic_r1"), ("gan", "bce")]
# every loss's scaler path on gan, dcgan and cgan; StyleGAN (fp16 on a CPU: about a minute a run) with its
# paper's R1 and with WGAN-GP, the two penalties that differentiate D's output through the scaled graph
ALL_PAIRS = ([(m, loss) for m in ("gan", "dcgan", "cgan") for loss in IMAGE_LOSSES]
             + [("stylegan", "logistic_r1"), ("stylegan", "wgan_gp")]
             + [("infogan", loss) for loss in PLAIN_LOSSES] + [("vae", None)])


@pytest.mark.parametrize(("model", "loss"), [
    pytest.param(m, loss, marks=[] if (m, loss) in FAST_PAIRS else [pytest.mark.slow]) for m, loss in ALL_PAIRS])
def test_every_model_and_loss_trains_under_the_fp16_scaler(model, loss, tmp_path):
    # StyleGAN grows: the layers of resolutions not yet reached have not trained
    assert_every_network_trained(fp16_run(model, loss, tmp_path), 0.3 if model == "stylegan" else 0.8)


@pytest.fixture(scope="module")
def translation_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation")
    write_image_folders(root / "unpaired", {"trainA": 6, "trainB": 6, "testA": 2, "testB": 2}, size=(32, 32))
    write_image_folders(root / "paired", {"train": 6, "test": 2}, size=(64, 32))
    return root


TRANSLATION = {"cyclegan": ("unpaired", "lsgan"), "pix2pix": ("paired", "bce")}  # data, the paper's loss


@pytest.mark.parametrize(("model", "data", "loss"), [
    pytest.param(m, data, loss, marks=[] if loss == paper else [pytest.mark.slow])
    for m, (data, paper) in TRANSLATION.items() for loss in PLAIN_LOSSES])
def test_translation_models_train_under_the_fp16_scaler(model, data, loss, translation_data, tmp_path):
    extra = [f"data={data}", f"data.path={translation_data / data}", "data.num_workers=0", "data.batch_size=2",
             "data.image_size=32", "data.load_size=32", "callbacks.translation_panels=null", "trainer.max_epochs=1"]
    assert_every_network_trained(fp16_run(model, loss, tmp_path, *extra))


def test_gradient_clipping_sees_unscaled_gradients_under_fp16(tmp_path):
    """Scaled gradients are ~1000-65536 times too large: clipping after unscale_ keeps the true norm bound."""
    from tests.rank_weights import recorded_grad_norms

    overrides = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "loss=wgan_gp", "loss.n_critic=1", *FP16,
                 "trainer.limit_train_batches=12", "callbacks.gradient_clipping.max_norm=0.05"]
    finite = [n for n in recorded_grad_norms(overrides, tmp_path) if math.isfinite(n)]
    assert finite and max(finite) <= 0.05 * (1 + 1e-3)


@pytest.mark.parametrize("action", ["stop", "skip"])
def test_steps_the_scaler_skips_are_not_divergence(action, tmp_path):
    out = tmp_path / action
    train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "loss=wgan_gp", "loss.n_critic=1", *FP16,
                         "trainer.limit_train_batches=12", f"callbacks.nonfinite_guard.action={action}",
                         "trainer.plugins.1.scaler.init_scale=1.0e12"], out))  # the first steps overflow
    checkpoint = torch.load(out / "checkpoints/last.ckpt", weights_only=True)
    assert checkpoint["MixedPrecision"]["scale"] < 1.0e12 / 2**10  # the scaler skipped steps and backed off
    assert checkpoint["callbacks"]["NonFiniteLossGuard"]["skipped"] == 0
