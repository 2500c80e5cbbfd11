"""End-to-end smoke runs through train(cfg) on CPU: every model x loss pair an experiment uses, the run
directory contract, real critic steps, seeding, and W&B offline logging."""

import csv
import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from gan_experiments.data import TorchvisionDataModule
from gan_experiments.pipeline import build, build_module, train
from tests.helpers import FAST, ROOT, SMALL_IMAGES, compose_train, recorded_training, small_networks

IMAGE_LOSSES = ["bce", "lsgan", "hinge", "wgan_clip", "wgan_gp", "logistic_r1"]
# every model x loss pair the README claims: gan, dcgan, cgan and stylegan with every loss; infogan with
# the losses that need no critic penalty (the translation models: tests/test_fp16.py and test_translation*)
PAIRS = ([(m, loss) for m in ("gan", "dcgan", "cgan", "stylegan") for loss in IMAGE_LOSSES]
         + [("infogan", loss) for loss in ("bce", "lsgan", "hinge")])
DEFAULT_SUITE = {("gan", "bce"), ("dcgan", "bce"), ("dcgan", "wgan_gp"), ("dcgan", "wgan_clip"), ("cgan", "bce"),
                 ("stylegan", "logistic_r1"), ("infogan", "bce")}


def run(tmp_path, *overrides, images=True):
    cfg = compose_train([*FAST, *(SMALL_IMAGES if images else []), *overrides], tmp_path)
    return cfg, train(cfg)


def assert_both_networks_trained(record: dict, min_fraction: float) -> None:
    """Each optimizer stepped and moved its own network's weights (not the other's): G's optimizer owns
    the generator, D's the discriminator, and the weights each owns changed during training."""
    owners = [set(o["owns"]) for o in record["optimizers"]]
    assert len(owners) == 2 and owners[0].isdisjoint(owners[1]), owners
    assert {"generator"} <= owners[0] and {"discriminator"} <= owners[1], owners
    for optimizer in record["optimizers"]:
        assert optimizer["stepped"] and optimizer["changed_fraction"] >= min_fraction, optimizer


@pytest.mark.parametrize(("model", "loss"), [
    pytest.param(m, loss, marks=[] if (m, loss) in DEFAULT_SUITE else [pytest.mark.slow]) for m, loss in PAIRS])
def test_model_loss_pair_trains(model, loss, tmp_path):
    """6 batches: with 5 critic steps per generator step (WGAN, WGAN-GP) G steps after the 5th."""
    record = recorded_training([*FAST, *SMALL_IMAGES, f"model={model}", f"loss={loss}", *small_networks(model),
                                "trainer.limit_train_batches=6"], tmp_path)
    # StyleGAN grows: the layers of resolutions not yet reached do not train; a Wasserstein critic's
    # output bias gets no gradient
    assert_both_networks_trained(record, 0.3 if model == "stylegan" else 0.8)


def test_run_directory_contract(tmp_path):
    _, metrics = run(tmp_path, *small_networks("dcgan"), "trainer.max_epochs=2", "logger=csv")
    for name in ["samples/epoch_000.png", "samples/epoch_001.png", "samples/epoch_002.png", "plots/losses.png",
                 "metrics.json", "checkpoints/last.ckpt", ".hydra/config.yaml"]:
        assert (tmp_path / name).is_file(), name
    # metrics.json holds the last epoch's value of every logged term: the epoch means Lightning's own
    # CSVLogger wrote for epoch 1
    rows = [row for row in csv.DictReader(open(tmp_path / "csv/version_0/metrics.csv")) if row.get("train/d_loss_epoch")]
    last = rows[-1]
    assert int(last["epoch"]) == 1
    for term in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert metrics[f"train/{term}"] == pytest.approx(float(last[f"train/{term}_epoch"]), rel=1e-6), term
    assert not any(k.endswith(("_step", "_epoch")) for k in metrics)
    resolved = (tmp_path / ".hydra/config.yaml").read_text()
    assert "${" not in resolved and "image_size: 16" in resolved
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)
    assert ckpt["config"]["model"]["generator"]["_target_"].endswith("DCGANGenerator")
    assert ckpt["global_step"] == 2 * 4 * 2 and ckpt["critic_steps"] == 2 * 4  # 2 epochs x 4 batches x (D + G)


def test_critic_steps_are_real(tmp_path):
    """n_critic=5 over 10 batches: 10 critic steps, each on its own real batch, and 2 generator steps."""
    cfg = compose_train([*FAST, *SMALL_IMAGES, "loss=wgan_gp", *small_networks("dcgan"), "trainer.limit_train_batches=10"], tmp_path)
    module = build_module(cfg)
    seen = []
    critic_step = module._critic_step
    module._critic_step = lambda opt, real, labels: (seen.append(real.clone()), critic_step(opt, real, labels))[1]
    datamodule = build(cfg.data, "data")
    trainer = build(cfg.trainer, "trainer", logger=False, enable_checkpointing=False, callbacks=[])
    trainer.fit(module, datamodule=datamodule)
    opt_g, opt_d = trainer.optimizers
    steps = lambda opt: int(next(iter(opt.state.values()))["step"])  # noqa: E731
    assert steps(opt_d) == 10 and steps(opt_g) == 2
    assert trainer.global_step == 12  # global_step counts both optimizers' steps
    assert module.critic_steps == 10
    assert len(seen) == 10  # a fresh real batch per critic step:
    assert not any(torch.equal(seen[i], seen[j]) for i in range(10) for j in range(i + 1, 10))


def test_weight_clipping_holds_after_training(tmp_path):
    cfg = compose_train([*FAST, *SMALL_IMAGES, "loss=wgan_clip", *small_networks("dcgan")], tmp_path)
    train(cfg)
    ckpt = torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)
    names = {f"discriminator.{n}" for n, _ in build_module(cfg).discriminator.named_parameters()}
    critic = {k: v for k, v in ckpt["state_dict"].items() if k in names}  # parameters, not BN running stats
    assert critic and max(v.abs().max().item() for v in critic.values()) <= 0.01 + 1e-7


def test_cgan_grid_has_one_row_per_class(tmp_path):
    run(tmp_path, "model=cgan", *small_networks("cgan"))
    grid = Image.open(tmp_path / "samples/epoch_001.png")
    cell = 16 + 2  # image size + padding
    assert grid.size == (8 * cell + 2, 10 * cell + 2)


def test_same_seed_same_weights(tmp_path):
    def weights(sub):
        run(tmp_path / sub, *small_networks("dcgan"), "seed=7")
        return torch.load(tmp_path / sub / "checkpoints/last.ckpt", weights_only=False)["state_dict"]

    a, b = weights("a"), weights("b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_toy2d_experiment_reports_mode_coverage(tmp_path):
    """The reported coverage equals the benchmark's definition applied here to the trained G's samples:
    2,500 samples from seed 0, high quality within 3 std (0.06) of the nearest of 8 centres on a circle of
    radius 2, a mode covered by at least 20 of them."""
    import math

    cfg, metrics = run(tmp_path, "experiment=toy2d_gan", "data.train_size=2048", images=False)
    module = build_module(cfg)
    module.load_state_dict(torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=True)["state_dict"])
    z = torch.randn(2500, module.latent_dim, generator=torch.Generator().manual_seed(0))
    samples = module.sample(z)
    angles = torch.arange(8) * 2 * math.pi / 8
    centres = 2 * torch.stack([angles.cos(), angles.sin()], dim=1)
    distance, mode = torch.cdist(samples.double(), centres.double()).min(dim=1)
    good = distance <= 3 * 0.02
    assert metrics["val/high_quality_fraction"] == pytest.approx(good.double().mean().item(), abs=1e-6)
    assert metrics["val/modes_covered"] == (torch.bincount(mode[good], minlength=8) >= 20).sum().item()
    assert (tmp_path / "samples/epoch_001.png").is_file() and (tmp_path / "plots/metrics.png").is_file()


def test_wandb_offline_run_has_config_metrics_and_images(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login
    cfg = compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "logger=wandb"], tmp_path)
    train(cfg)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert any(runs[0].glob("files/media/images/samples_*.png"))
    assert f"wandb sync {runs[0]}" in capsys.readouterr().out
    assert list(runs[0].glob("*.wandb"))


@pytest.mark.realdata
def test_dcgan_learns_real_mnist(tmp_path, shared_data):
    """A short DCGAN run on real MNIST: the losses leave chance level and samples move from noise to
    MNIST's pixel statistics (mean image and share of background pixels)."""
    cfg = compose_train(
        [*FAST, "data=mnist", "metrics=none", f"data.root={shared_data}", "data.num_workers=0", "data.batch_size=64",
         "data.image_size=32", "model.generator.base_channels=32", "model.discriminator.base_channels=32",
         "trainer.limit_train_batches=400", "seed=0"],
        tmp_path,
    )
    metrics = train(cfg)
    assert metrics["train/d_loss"] < 2 * torch.log(torch.tensor(2.0)).item() - 0.3  # D beats chance (2 ln 2)
    assert metrics["train/g_loss"] > torch.log(torch.tensor(2.0)).item() + 0.3  # G's loss above chance (ln 2)

    dm = TorchvisionDataModule(name="mnist", root=str(shared_data), download=False, batch_size=512, num_workers=0)
    dm.setup()
    real = next(iter(dm.val_dataloader()))[0]
    module = build_module(cfg)
    z = torch.randn(512, 100, generator=torch.Generator().manual_seed(0))
    before = module.sample(z)
    module.load_state_dict(torch.load(tmp_path / "checkpoints/last.ckpt", weights_only=False)["state_dict"])
    after = module.sample(z)

    def gap(fake):  # L1 distance between mean images, and difference in background share
        return (fake.mean(0) - real.mean(0)).abs().mean().item(), abs((fake < -0.9).float().mean() - (real < -0.9).float().mean()).item()

    (mean_before, bg_before), (mean_after, bg_after) = gap(before), gap(after)
    # measured over seeds 0/1/2 (2026-12-01): mean gap 0.76 -> 0.19/0.14/0.16, background gap 0.79 -> 0.42/0.28/0.17;
    # the background share lags the mean image at 400 batches, so its bound leaves room for seed-to-seed spread
    assert mean_after < 0.4 * mean_before
    assert bg_after < 0.65 * bg_before


if os.environ.get("CI_SKIP_WANDB"):
    test_wandb_offline_run_has_config_metrics_and_images = pytest.mark.skip(reason="CI_SKIP_WANDB")(
        test_wandb_offline_run_has_config_metrics_and_images
    )


def test_evaluate_samples_from_checkpoint(tmp_path):
    run(tmp_path / "run", "model=cgan", *small_networks("cgan"))
    ckpt = tmp_path / "run/checkpoints/last.ckpt"
    result = subprocess.run(
        [sys.executable, "evaluate.py", "task=samples", f"ckpt={ckpt}", f"out_dir={tmp_path}/eval",
         f"out={tmp_path}/eval.json", "num_images=20", "psi=0.5", f"hydra.run.dir={tmp_path}/hydra"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["num_images"] == 20 and report["psi"] == 0.5
    files = sorted((tmp_path / "eval/images").glob("*.png"))
    assert len(files) == 20 and Image.open(files[0]).size == (16, 16)
    assert (tmp_path / "eval/grid.png").is_file()

    missing = subprocess.run([sys.executable, "evaluate.py", "task=samples", f"ckpt={tmp_path}/nope.ckpt",
                              f"hydra.run.dir={tmp_path}/h2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("loss", ["bce", "wgan_gp"])
def test_bf16_mixed_precision_on_cpu(loss, tmp_path):
    record = recorded_training([*FAST, *SMALL_IMAGES, f"loss={loss}", *small_networks("dcgan"),
                                "trainer.precision=bf16-mixed", "trainer.limit_train_batches=6"], tmp_path)
    assert_both_networks_trained(record, 0.8)


def test_r1_regularized_training_adds_gamma_half_r1_to_the_critic_loss(tmp_path):
    """One batch with and without R1 from the same seed: D sees the same reals and fakes before its first
    step, so the logged critic losses differ by exactly gamma / 2 * R1 (Mescheder et al. eq. 9)."""
    logged = {}
    for gamma in (0.0, 4.0):
        _, logged[gamma] = run(tmp_path / str(gamma), "loss=bce", f"loss.r1_weight={gamma}", "loss.critic_norm=layer",
                               *small_networks("dcgan"), "trainer.limit_train_batches=1", "seed=0")
    assert logged[4.0]["train/d_real"] == logged[0.0]["train/d_real"] and logged[4.0]["train/r1"] > 1e-6
    assert logged[4.0]["train/d_loss"] - logged[0.0]["train/d_loss"] == pytest.approx(2.0 * logged[4.0]["train/r1"], rel=1e-4)


def test_hydra_multirun_gives_each_job_its_own_run_directory(tmp_path):
    result = subprocess.run(
        [sys.executable, "train.py", "-m", "loss=bce,lsgan", "logger=csv", "trainer.max_epochs=1",
         "trainer.limit_train_batches=2", "trainer.enable_progress_bar=false", *SMALL_IMAGES,
         *small_networks("dcgan"), f"hydra.sweep.dir={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job, criterion in enumerate(["BCELoss", "LSGANLoss"]):
        assert "train/d_loss" in json.loads((tmp_path / str(job) / "metrics.json").read_text())
        assert f"gan_experiments.losses.{criterion}" in (tmp_path / str(job) / ".hydra/config.yaml").read_text()
