"""Every config group option composes and instantiates; wrong values fail early and name the key."""

import subprocess
import sys

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy
from omegaconf import OmegaConf, open_dict

from gan_experiments.callbacks import BestCheckpoint
from gan_experiments.callbacks.capabilities import HasHeadlineMetric
from gan_experiments.checkpoint_io import AtomicCheckpointIO
from gan_experiments.config import ConfigError, validate
from gan_experiments.data.base import DatasetNotFoundError
from gan_experiments.pipeline import build, build_callbacks, build_loggers, build_module, train
from tests.helpers import CONF, ROOT, compose_train

MODELS = ["gan", "dcgan", "cgan"]
LOSSES = ["bce", "lsgan", "hinge", "wgan_clip", "wgan_gp"]
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_groups_mirror_the_defaults_list():
    defaults = OmegaConf.load(CONF / "train.yaml").defaults
    groups = [next(iter(d)) for d in defaults if not isinstance(d, str)]
    # a group whose options choose another group's option (model -> loss, metrics, callbacks; loss ->
    # optimizer) must come after it: Hydra applies an override only to a group listed earlier
    assert groups == ["data", "trainer", "logger", "optimizer", "loss", "callbacks", "metrics", "model", "paths", "hydra",
                      "experiment", "hparams_search"]
    for group in groups:
        assert (CONF / group).is_dir()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("loss", LOSSES)
def test_every_model_and_loss_pair_builds(model, loss, tmp_path):
    cfg = compose_train([f"model={model}", f"loss={loss}"], tmp_path)
    validate(cfg)
    module = build_module(cfg)
    assert module.loss.n_critic == cfg.loss.n_critic
    opt_g, opt_d = module.configure_optimizers()
    assert type(opt_d).__name__ == cfg.model.optimizer_d._target_.rsplit(".", 1)[1]
    assert opt_g.param_groups[0]["lr"] == cfg.model.optimizer_g.lr
    assert module.num_classes == (10 if model == "cgan" else 0)


def test_wgan_gp_critic_has_no_batch_norm(tmp_path):
    module = build_module(compose_train(["loss=wgan_gp"], tmp_path))
    assert not any("BatchNorm" in type(m).__name__ for m in module.discriminator.modules())
    assert any("BatchNorm" in type(m).__name__ for m in module.generator.modules())


def test_change_detector_canonical_hyperparameters(tmp_path):
    wgan = compose_train(["loss=wgan_clip"], tmp_path)
    assert (wgan.loss.clip_value, wgan.loss.n_critic, wgan.model.optimizer_d._target_, wgan.model.optimizer_d.lr) == (
        0.01, 5, "torch.optim.RMSprop", 5e-5)
    gp = compose_train(["loss=wgan_gp"], tmp_path)
    assert (gp.loss.gp_weight, gp.loss.n_critic, gp.model.optimizer_d.lr, list(gp.model.optimizer_d.betas)) == (
        10.0, 5, 1e-4, [0.0, 0.9])
    dcgan = compose_train([], tmp_path).model
    assert (dcgan.optimizer_g.lr, list(dcgan.optimizer_g.betas)) == (2e-4, [0.5, 0.999])


@pytest.mark.parametrize("data", options("data"))
def test_every_data_option_loads_batches_or_names_the_missing_folder(data, tmp_path):
    """Embedded data (digits, toy2d) gives batches of the configured shape; every other option, pointed at
    an empty folder with downloads off, fails with DatasetNotFoundError naming that folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = compose_train([f"data={data}", "data.batch_size=4", "data.num_workers=0"], tmp_path)
    with open_dict(cfg):
        for key, value in (("root", str(empty)), ("download", False)):
            if key in cfg.data:
                cfg.data[key] = value
        if "path" in cfg.data.keys() and not cfg.data.get("name"):  # a folder option, not a named release dataset
            cfg.data.path = str(empty)
    dm = instantiate(cfg.data)
    if data in ("digits", "toy2d"):
        dm.prepare_data()
        dm.setup("fit")
        x, y = next(iter(dm.train_dataloader()))
        size, channels = cfg.data.get("image_size"), cfg.data.get("channels")
        assert x.shape == ((4, 2) if data == "toy2d" else (4, channels, size, size)) and y.shape == (4,)
        return
    with pytest.raises(DatasetNotFoundError) as error:  # as Lightning calls them
        dm.prepare_data()
        dm.setup("fit")
    assert str(empty) in str(error.value)


@pytest.mark.parametrize("trainer", options("trainer"))
def test_every_trainer_option_builds_its_strategy_precision_and_atomic_checkpoints(trainer, tmp_path):
    """What each option means once Lightning has built it (GPU options built on the CPU: their strategy and
    precision are what matter here)."""
    expected = {  # option: (strategy class, Lightning's precision, has a loss scaler)
        "cpu": (SingleDeviceStrategy, None, False), "default": (SingleDeviceStrategy, None, False),
        "gpu": (SingleDeviceStrategy, None, False), "fp16_cpu": (SingleDeviceStrategy, "16-mixed", True),
        "ddp": (DDPStrategy, None, False), "ddp_spawn": (DDPStrategy, None, False),
    }[trainer]
    gpu = trainer in ("gpu", "ddp", "ddp_spawn")
    cfg = compose_train([f"trainer={trainer}", *(["trainer.accelerator=cpu", "trainer.devices=1"] if gpu else [])],
                        tmp_path)
    t = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    strategy, precision, scaler = expected
    assert type(t.strategy) is strategy
    assert isinstance(t.accelerator, CPUAccelerator)  # auto on this machine, cpu by override
    # the configured precision reaches Lightning unchanged (fp16_cpu: the plugin's, not Lightning's bf16)
    assert t.precision == (precision or cfg.trainer.precision)
    assert (getattr(t.precision_plugin, "scaler", None) is not None) == scaler
    assert isinstance(t.strategy.checkpoint_io, AtomicCheckpointIO)
    if "ddp" in trainer:
        assert t.strategy._ddp_kwargs.get("find_unused_parameters") is True
        assert t.strategy._start_method == ("spawn" if trainer == "ddp_spawn" else "popen")


@pytest.mark.parametrize("logger", options("logger"))
def test_every_logger_option_instantiates(logger, tmp_path):
    loggers = build_loggers(compose_train([f"logger={logger}"], tmp_path))
    expected = {"none": 0, "many_loggers": 3}.get(logger, 1)
    assert len(loggers) == expected


def test_callbacks_and_metrics_instantiate(tmp_path):
    cfg = compose_train(["metrics=toy2d"], tmp_path)
    names = [type(c).__name__ for c in build_callbacks(cfg, have_logger=True)]
    assert names[0] == "GANMetrics"  # metric callbacks run before files and plots are written
    assert {"ModelCheckpoint", "SampleGrid", "RichProgressBar", "LearningRateMonitor", "LossCurves", "MetricsJSON"} <= set(names)
    assert "LearningRateMonitor" not in [type(c).__name__ for c in build_callbacks(cfg, have_logger=False)]
    quiet = compose_train(["trainer.enable_progress_bar=false"], tmp_path)
    assert "RichProgressBar" not in [type(c).__name__ for c in build_callbacks(quiet, have_logger=True)]


# the experiments whose data no checkout holds: FFHQ is the user's folder (here: the synthetic one), CIFAR-10
# is downloaded by torchvision on a user's machine (here: its declared shape, as nothing can be downloaded)
FOLDER_DATA = {"stylegan2_ffhq256"}
DOWNLOADED_DATA = {"stylegan2_cifar"}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_builds_a_generator_for_its_data(experiment, tmp_path, synthetic_data):
    """Each experiment's module and data module are built, and the generator's samples have the data's shape."""
    folder = [f"data.path={synthetic_data.labelled}"] if experiment in FOLDER_DATA else []
    cfg = compose_train([f"experiment={experiment}", "data.num_workers=0", "data.batch_size=4", *folder], tmp_path)
    validate(cfg)
    module = build_module(cfg)
    if experiment in DOWNLOADED_DATA:
        fake = module.sample(torch.randn(2, module.latent_dim))
        assert fake.shape == (2, cfg.data.channels, cfg.data.image_size, cfg.data.image_size)
        return
    dm = instantiate(cfg.data)
    dm.setup("fit")
    real, _ = next(iter(dm.train_dataloader()))
    fake = module.sample(torch.randn(len(real), module.latent_dim))
    assert fake.shape == real.shape


def test_readme_example_builds_a_layer_norm_critic_and_wgan_gp_optimizers(tmp_path):
    """The README's `model=dcgan loss=wgan_gp data=mnist trainer=cpu`: the loss group reaches the module,
    so the critic has no batch norm (which GP forbids), both optimizers are Adam(0, 0.9) at 1e-4, and the
    trainer runs on the CPU."""
    cfg = compose_train(["model=dcgan", "loss=wgan_gp", "data=mnist", "trainer=cpu"], tmp_path)
    validate(cfg)
    module = build_module(cfg)
    critic_norms = {type(m) for m in module.discriminator.modules()}
    assert torch.nn.BatchNorm2d not in critic_norms and torch.nn.BatchNorm2d in {type(m) for m in module.generator.modules()}
    for opt in module.configure_optimizers():
        assert type(opt) is torch.optim.Adam and opt.defaults["lr"] == 1e-4 and opt.defaults["betas"] == (0.0, 0.9)
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert isinstance(trainer.accelerator, CPUAccelerator)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("loss.n_critic=0", "loss.n_critic"),
        ("data.image_size=-3", "data.image_size"),
        ("data.image_size=24", "data.image_size"),
        ("data.batch_size=0", "data.batch_size"),
        ("model.optimizer_d.lr=-1", "model.optimizer_d.lr"),
        ("loss.clip_value=0", "loss.clip_value"),
        ("loss.critic_norm=batchnorm", "loss.critic_norm"),
        ("trainer.precision=15", "trainer.precision"),
        ("seed=abc", "seed"),
        ("ckpt_path=/no/such.ckpt", "ckpt_path"),
        ("model.generator.base_channels=0", "model.generator.base_channels"),
        ("model.discriminator.spectral_norm=maybe", "model.discriminator.spectral_norm"),
        ("model.ema_decay=1.5", "model.ema_decay"),
        ("model.optimizer_g.betas=[0.5]", "model.optimizer_g.betas"),
        ("trainer.limit_train_batches=0", "trainer.limit_train_batches"),
        ("callbacks.sample_grid.every_n_epochs=0", "callbacks.sample_grid.every_n_epochs"),
        ("callbacks.nonfinite_guard.action=retry", "callbacks.nonfinite_guard.action"),
        ("metrics.inception_weights=/no/weights.pt", "metrics.inception_weights"),
        ("data.num_workers=-1", "data.num_workers"),
    ],
)
def test_bad_values_fail_before_training_naming_the_key(override, key, tmp_path):
    cfg = compose_train([override], tmp_path)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        train(cfg)
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["model=cyclegan", "data=horse2zebra", "model.generator_ab.n_blocks=-1"], "model.generator_ab.n_blocks"),
        (["model=cyclegan", "data=horse2zebra", "data.bad_images=ignore"], "data.bad_images"),
        (["model=pix2pix", "data=facades", "model.generator.dropout=2"], "model.generator.dropout"),
        (["model=stylegan", "data=celeba", "model.generator.style_mixing_prob=-0.1"], "model.generator.style_mixing_prob"),
        (["model=infogan", "data=mnist", "model.lambda_info=-1"], "model.lambda_info"),
    ],
)
def test_bad_model_specific_values_fail_naming_the_key(overrides, key, tmp_path):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + ".*is invalid: expected"):
        validate(compose_train(overrides, tmp_path))


def test_missing_data_path_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.path.*existing folder"):
        train(compose_train(["data=image_folder", f"data.path={tmp_path}/nope"], tmp_path))
    with pytest.raises(ConfigError, match=r"data\.path.*Missing mandatory value"):
        train(compose_train(["data=image_folder"], tmp_path))


def test_several_problems_are_reported_together(tmp_path):
    with pytest.raises(ConfigError) as err:
        validate(compose_train(["loss.n_critic=0", "data.batch_size=-1"], tmp_path))
    assert "loss.n_critic" in str(err.value) and "data.batch_size" in str(err.value)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "train.py", *args, "hydra.run.dir=${oc.env:TMPDIR,/tmp}/gan_cli_test"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def test_cli_wrong_group_choice_lists_the_options():
    result = run_cli("model=stylegan3000")
    assert result.returncode != 0
    assert "Could not find 'model/stylegan3000'" in result.stderr and "dcgan" in result.stderr


def test_cli_wrong_value_is_one_clear_line():
    result = run_cli("loss.n_critic=0")
    assert result.returncode == 2
    assert "loss.n_critic=0 is invalid" in result.stderr and "Traceback" not in result.stderr


def test_cli_out_of_memory_suggests_batch_size_and_precision():
    result = run_cli("+callbacks.oom._target_=tests.rank_weights.RaiseOutOfMemory", "logger=none", "metrics=none",
                     "trainer.enable_progress_bar=false")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: out of GPU memory: CUDA out of memory. Tried to allocate 20.00 GiB" in result.stderr
    assert "data.batch_size (now 64)" in result.stderr and "trainer.precision=bf16-mixed" in result.stderr


def test_cyclegan_config_is_the_reference_recipe(tmp_path):
    cfg = compose_train(["model=cyclegan", "data=horse2zebra", "trainer=ddp"], tmp_path)
    validate(cfg)
    m = cfg.model
    assert (m.lambda_cycle, m.lambda_identity, m.pool_size, m.n_epochs, m.n_epochs_decay) == (10.0, 0.5, 50, 100, 100)
    assert cfg.trainer.max_epochs == 200 and cfg.trainer.strategy == "ddp_find_unused_parameters_true"
    assert cfg.loss.criterion._target_.endswith("LSGANLoss")
    assert (cfg.model.optimizer_g.lr, list(cfg.model.optimizer_g.betas)) == (2e-4, [0.5, 0.999])
    assert (cfg.data.batch_size, cfg.data.image_size) == (1, 256)
    module = build_module(cfg)
    assert module.generator_ab is not module.generator_ba
    blocks = [b for b in module.generator_ab.modules() if type(b).__name__ == "ResidualBlock"]
    assert len(blocks) == 9 and module.discriminator_b.n_layers == 3
    names = [type(c).__name__ for c in build_callbacks(cfg, have_logger=True)]
    assert names[0] == "TranslationMetrics" and "TranslationPanels" in names and "SampleGrid" not in names
    best = next(c for c in build_callbacks(cfg, have_logger=True) if isinstance(c, BestCheckpoint))
    metrics = next(c for c in build_callbacks(cfg, have_logger=True) if isinstance(c, HasHeadlineMetric))
    assert best.follows_metrics and metrics.headline_metric(build(cfg.data, "data")) == "val/fid_a2b"


def test_pix2pix_config_is_the_reference_recipe(tmp_path):
    cfg = compose_train(["model=pix2pix", "data=facades"], tmp_path)
    validate(cfg)
    assert cfg.loss.criterion._target_.endswith("BCELoss") and cfg.model.lambda_l1 == 100.0
    assert cfg.data.direction == "BtoA" and cfg.data.batch_size == 1
    module = build_module(cfg)
    assert module.generator.num_downs == 8 and module.discriminator.in_channels == 6
    assert any(type(m).__name__ == "BatchNorm2d" for m in module.generator.modules())


def test_translation_models_refuse_other_data_and_losses(tmp_path):
    with pytest.raises(ConfigError, match="data._target_.*unpaired data for model=cyclegan"):
        validate(compose_train(["model=cyclegan"], tmp_path))
    with pytest.raises(ConfigError, match="paired data for model=pix2pix"):
        validate(compose_train(["model=pix2pix", "data=horse2zebra"], tmp_path))
    with pytest.raises(ConfigError, match="without gradient penalties"):
        build_module(compose_train(["model=cyclegan", "data=horse2zebra", "loss=wgan_gp"], tmp_path))
    assert compose_train(["model=cyclegan", "data=horse2zebra", "loss=bce"], tmp_path).loss.criterion._target_.endswith("BCELoss")


@pytest.mark.parametrize("loss", LOSSES + ["logistic_r1"])
def test_stylegan_and_infogan_build_with_every_loss(loss, tmp_path):
    stylegan = build_module(compose_train(["model=stylegan", f"loss={loss}", "data.image_size=16"], tmp_path))
    assert stylegan.loss.r1_weight == (10.0 if loss == "logistic_r1" else 0.0)
    if loss in ("wgan_clip", "wgan_gp", "logistic_r1"):
        with pytest.raises(ConfigError, match="without critic penalties or clipping"):
            build_module(compose_train(["model=infogan", f"loss={loss}"], tmp_path))
    else:
        assert build_module(compose_train(["model=infogan", f"loss={loss}"], tmp_path)).categorical == 10


def test_stylegan_defaults_to_its_papers_loss(tmp_path):
    cfg = compose_train(["model=stylegan", "data=celeba"], tmp_path)
    assert cfg.loss.r1_weight == 10.0 and list(cfg.model.optimizer_g.betas) == [0.0, 0.99]
    assert cfg.model.generator.style_mixing_prob == 0.9 and cfg.model.generator.mapping_lr_mul == 0.01
    assert cfg.model.ema_decay == 0.999 and cfg.model.progressive
