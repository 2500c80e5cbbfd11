"""model=stylegan2: the training phases (main, lazy path length, lazy R1) at their intervals, the lazy Adam
correction, G_ema's half-life, ADA inside the loop, exact resume with p and the path length mean restored,
fp16 with a real loss scaler and bf16 through every phase, and the StyleGAN tools on a StyleGAN2 checkpoint."""

import math

import pytest
import torch

from gan_experiments.losses.stylegan2 import StyleGAN2Loss, lazy_adam_correction
from gan_experiments.models import StyleGAN2Module
from gan_experiments.models.stylegan2 import ema_beta
from gan_experiments.pipeline import build_module, evaluate, train
from tests.helpers import FAST, assert_resume_is_exact, compose_evaluate, compose_train, recorded_training

TINY = ["model=stylegan2", "data.image_size=16", "data.batch_size=8", "metrics=none",
        "model.generator.latent_dim=16", "model.generator.w_dim=16", "model.generator.mapping_layers=2",
        "model.generator.channel_base=256", "model.generator.channel_max=16", "model.discriminator.mapping_layers=1",
        "model.discriminator.mbstd_group_size=4"]


def test_ema_beta_is_a_half_life_in_images():
    assert ema_beta(32, 10**9, 10.0, None) == pytest.approx(0.5 ** (32 / 10_000))
    assert ema_beta(32, 1000, 10.0, 0.05) == pytest.approx(0.5 ** (32 / 50))  # ramp-up: h = 1000 * 0.05
    assert ema_beta(32, 10**9, 10.0, 0.05) == pytest.approx(0.5 ** (32 / 10_000))
    beta = ema_beta(64, 0, 10.0, None)  # after h images (h / batch steps) half the old weight remains
    assert beta ** (10_000 / 64) == pytest.approx(0.5)


def test_lazy_adam_correction_follows_the_paper():
    param = torch.nn.Parameter(torch.zeros(3))
    opt = lazy_adam_correction(torch.optim.Adam([param], lr=0.0025, betas=(0.0, 0.99)), 16)
    c = 16 / 17
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0025 * c)
    assert opt.param_groups[0]["betas"] == pytest.approx((0.0, 0.99**c))
    untouched = lazy_adam_correction(torch.optim.Adam([param], lr=0.0025), None)
    assert untouched.param_groups[0]["lr"] == 0.0025


def test_the_loss_refuses_bad_values_naming_the_key():
    for key, value in [("r1_interval", 0), ("pl_interval", 1.5), ("pl_decay", 0.0), ("r1_gamma", -1.0)]:
        with pytest.raises(ValueError, match=f"loss.{key}"):
            StyleGAN2Loss(**{key: value})


def steps_per_parameter(checkpoint: dict) -> list[int]:
    """Adam's step count of each optimizer (the first parameter's state)."""
    return [int(next(iter(opt["state"].values()))["step"]) for opt in checkpoint["optimizer_states"]]


def test_lazy_phases_step_at_their_intervals(tmp_path):
    """17 batches, PL every 4 (batches 0, 4, 8, 12, 16), R1 every 16 (batches 0, 16): G steps 17 + 5 = 22
    times, D 17 + 2 = 19; with both penalties off, 17 and 17."""
    overrides = [*FAST, *TINY, "trainer.limit_train_batches=17", "loss.pl_interval=4", "loss.r1_interval=16"]
    train(compose_train(overrides, tmp_path / "lazy"))
    assert steps_per_parameter(torch.load(tmp_path / "lazy/checkpoints/last.ckpt", weights_only=True)) == [22, 19]
    train(compose_train([*overrides, "loss.pl_weight=0", "loss.r1_gamma=0"], tmp_path / "off"))
    assert steps_per_parameter(torch.load(tmp_path / "off/checkpoints/last.ckpt", weights_only=True)) == [17, 17]
    train(compose_train([*overrides, "loss.pl_interval=null", "loss.r1_interval=null"], tmp_path / "both"))
    assert steps_per_parameter(torch.load(tmp_path / "both/checkpoints/last.ckpt", weights_only=True)) == [17, 17]


def test_optimizers_get_the_lazy_correction(tmp_path):
    module = build_module(compose_train([*TINY, "loss.pl_interval=4", "loss.r1_interval=16"], tmp_path))
    opt_g, opt_d = module.configure_optimizers()
    assert opt_g.param_groups[0]["lr"] == pytest.approx(0.0025 * 4 / 5)
    assert opt_d.param_groups[0]["betas"][1] == pytest.approx(0.99 ** (16 / 17))


@pytest.mark.parametrize("penalty", ["pl", "r1"])
def test_each_penalty_phase_changes_training(penalty, tmp_path):
    """Same seed, one batch: with the penalty's weight 0 the run ends with other weights (the phase ran
    at batch 0 and stepped its network)."""
    weight = {"pl": "loss.pl_weight", "r1": "loss.r1_gamma"}[penalty]
    results = {}
    for value in ("0", "100"):
        out = tmp_path / value
        train(compose_train([*FAST, *TINY, "trainer.limit_train_batches=1", f"{weight}={value}"], out))
        results[value] = torch.load(out / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
    prefix = {"pl": "generator.synthesis", "r1": "discriminator."}[penalty]
    changed = [k for k in results["0"] if k.startswith(prefix) and not torch.equal(results["0"][k], results["100"][k])]
    assert changed
    if penalty == "pl":
        assert results["100"]["path_length.pl_mean"] > 0 and results["0"]["path_length.pl_mean"] == 0


def test_every_network_trains_with_ada_and_p_rises_on_an_overfitting_discriminator(tmp_path):
    """ada.kimg tiny: p moves by 8 * 1 / (0.008 * 1000) = 1 per adjustment; D's outputs on reals quickly turn
    positive (r_t > target 0), so p rises from 0; the logged train/ada_p follows it."""
    record = recorded_training([*FAST, *TINY, "trainer.limit_train_batches=6", "model.ada.target=0.0",
                                "model.ada.interval=1", "model.ada.kimg=0.008"], tmp_path)
    for optimizer in record["optimizers"]:
        assert optimizer["stepped"] and optimizer["changed_fraction"] >= 0.8, optimizer
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert ckpt["state_dict"]["augment.p"] > 0


def test_stylegan2_resumes_exactly_with_ada_p_and_the_path_length_mean(tmp_path):
    overrides = [*TINY, "trainer.limit_train_batches=5", "loss.pl_interval=2", "loss.r1_interval=3",
                 "model.ada.interval=2", "model.ada.kimg=0.1", "model.ada.target=0.0", "model.ema_rampup=0.05"]
    straight, resumed = assert_resume_is_exact(overrides, tmp_path)
    assert straight["state_dict"]["augment.p"] > 0 and straight["state_dict"]["path_length.pl_mean"] > 0
    assert resumed["images_seen"] == straight["images_seen"] == 4 * 5 * 8
    assert resumed["batches_done"] == straight["batches_done"] == 20


@pytest.mark.parametrize("precision", [["trainer=fp16_cpu"], ["trainer.precision=bf16-mixed"]],
                         ids=["fp16_scaler", "bf16"])
def test_every_phase_trains_under_mixed_precision(precision, tmp_path):
    """Both lazy penalties every batch (interval 1), ADA on: every optimizer steps and moves its network,
    the losses stay finite, and under fp16 the scaler's state is saved."""
    record = recorded_training([*FAST, *TINY, *precision, "trainer.limit_train_batches=8", "loss.pl_interval=1",
                                "loss.r1_interval=1", "model.ada.kimg=0.01", "model.generator.conv_clamp=256"],
                               tmp_path)
    for optimizer in record["optimizers"]:
        assert optimizer["stepped"] and optimizer["changed_fraction"] >= 0.8, optimizer
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())
    if precision == ["trainer=fp16_cpu"]:
        assert "MixedPrecision" in ckpt and math.isfinite(ckpt["MixedPrecision"]["scale"])


def test_samples_and_tools_use_g_ema(tmp_path):
    cfg = compose_train([*TINY], tmp_path)
    module = build_module(cfg)
    assert isinstance(module, StyleGAN2Module)
    z = torch.randn(3, 16)
    with torch.no_grad():
        module.generator_ema.synthesis.blocks[0].conv1.bias.add_(1.0)
    torch.manual_seed(0)
    a = module.sample(z)
    torch.manual_seed(0)
    assert torch.equal(a, module.synthesize(module.styles(z)))
    torch.manual_seed(0)
    assert not torch.equal(a, module.generator.eval()(z))
    module.generator_ema.mapping.w_avg.normal_()
    truncated = module.styles(z)
    torch.manual_seed(0)
    ws = module.generator_ema.truncate(truncated, 0.0, 2)
    torch.manual_seed(0)
    assert torch.equal(module.sample(z, psi=0.0, truncation_layers=2), module.synthesize(ws))


@pytest.fixture(scope="module")
def stylegan2_checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("stylegan2_run")
    train(compose_train([*FAST, *TINY, "trainer.limit_train_batches=2"], run))
    return run / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize("task", ["style_mixing", "noise", "interpolate"])
def test_the_stylegan_tools_run_on_a_stylegan2_checkpoint(task, stylegan2_checkpoint, tmp_path):
    """(task=truncation computes FIDs per psi: slow; it goes through ``sample(psi=...)``, tested above.)"""
    cfg = compose_evaluate([f"task={task}", f"ckpt={stylegan2_checkpoint}", f"out_dir={tmp_path}/out",
                            f"out={tmp_path}/out.json"])
    result = evaluate(cfg)
    assert result and any((tmp_path / "out").glob("*.png"))


@pytest.mark.parametrize("conditioning", ["projection", "acgan"])
def test_class_conditional_stylegan2_trains_with_either_discriminator(conditioning, tmp_path):
    """NVlabs --cond: labels embedded into the mapping input; D by projection or with an AC-GAN head, whose
    auxiliary losses are logged and whose classifier moves only through them (same seed with model.aux_weight=0:
    the head keeps its initial weights)."""
    overrides = [*FAST, *TINY, "trainer.limit_train_batches=3", "model.generator.num_classes=10",
                 f"model.discriminator.conditioning={conditioning}"]
    metrics = train(compose_train(overrides, tmp_path / "run"))
    assert ("train/d_aux" in metrics) == (conditioning == "acgan")
    ckpt = torch.load(tmp_path / "run/checkpoints/last.ckpt", weights_only=True)
    if conditioning == "acgan":
        train(compose_train([*overrides, "model.aux_weight=0"], tmp_path / "no_aux"))
        no_aux = torch.load(tmp_path / "no_aux/checkpoints/last.ckpt", weights_only=True)
        key = "discriminator.classifier.linear.weight"
        assert not torch.equal(ckpt["state_dict"][key], no_aux["state_dict"][key])
    module = build_module(compose_train(overrides, tmp_path / "run"))
    module.load_state_dict(ckpt["state_dict"])
    torch.manual_seed(0)
    zero = module.sample(torch.zeros(2, 16), torch.tensor([0, 0]))
    torch.manual_seed(0)
    other = module.sample(torch.zeros(2, 16), torch.tensor([0, 7]))
    assert torch.equal(zero[0], other[0]) and not torch.equal(zero[1], other[1])  # the label changes the image
