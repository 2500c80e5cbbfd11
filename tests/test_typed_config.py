"""Typed configs: every ``_target_`` node is checked against its target's signature before anything is
built (gan_experiments/config/signatures.py), the old layout of stored configs still builds, and renamed
command-line keys name their new place."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Literal

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from gan_experiments.building import build_module
from gan_experiments.cli import renamed_key_errors
from gan_experiments.config import ConfigError, validate
from gan_experiments.config.signatures import signature_problems
from gan_experiments.models import GANModule
from gan_experiments.models.translation import TranslationModule
from tests.helpers import CONF, ROOT, compose_train


class Widget:
    """A target of this test with every kind of annotation the checker handles."""

    def __init__(self, count: int, rate: float | None = None, mode: Literal["a", "b"] = "a",
                 pair: tuple[float, float] = (0.0, 1.0), flag: bool = False, free=None):
        pass


def widget_problems(**values) -> list[str]:
    cfg = OmegaConf.create({"model": {"_target_": f"{__name__}.Widget", "count": 1, **values}})
    return signature_problems(cfg, groups=("model",))


@pytest.mark.parametrize(("values", "bad_key"), [
    ({}, None),
    ({"count": 3, "rate": 0.5, "mode": "b", "pair": [0.5, 0.9], "flag": True, "free": "anything"}, None),
    ({"rate": 2}, None),  # an int is a float
    ({"count": 1.5}, "count"),
    ({"count": True}, "count"),  # bool is not int here
    ({"count": "3"}, "count"),  # no string coercion
    ({"rate": "fast"}, "rate"),
    ({"mode": "c"}, "mode"),
    ({"pair": [0.5]}, "pair"),
    ({"flag": "yes"}, "flag"),
    ({"flag": 1}, "flag"),
])
def test_values_are_checked_against_the_annotations(values, bad_key):
    problems = widget_problems(**values)
    if bad_key is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(f"model.{bad_key}=")


def test_a_key_the_target_does_not_take_is_refused_with_the_keys_it_takes():
    [problem] = widget_problems(colour="red")
    assert problem.startswith("model.colour is not a parameter of") and "count, rate, mode, pair, flag, free" in problem


@pytest.mark.parametrize(("override", "key", "expected"), [
    ("model.discriminator.spectral_norm=maybe", "model.discriminator.spectral_norm", "expected bool"),
    ("model.generator.base_channels=abc", "model.generator.base_channels", "expected int"),
    ("model.optimizer_g.betas=[0.5]", "model.optimizer_g.betas", "expected tuple["),
    ("loss.n_critic=2.5", "loss.n_critic", "expected int"),
    ("trainer.max_epochs=1.5", "trainer.max_epochs", "expected Optional[int]"),
    ("trainer.precision=15", "trainer.precision", "'bf16-mixed'"),
    ("callbacks.sample_grid.every_n_epochs=x", "callbacks.sample_grid.every_n_epochs", "expected int"),
    ("metrics.num_samples=1.5", "metrics.num_samples", "expected int"),
    ("+model.generator.widht=3", "model.generator.widht", "is not a parameter of gan_experiments.networks.DCGANGenerator"),
])
def test_a_wrong_type_in_any_group_is_refused_naming_the_key(override, key, expected, tmp_path):
    """The signature check's own line (the target's annotation), not only a hand rule on the same key."""
    with pytest.raises(ConfigError) as err:
        validate(compose_train([override], tmp_path))
    assert any(line.strip().startswith(key) and expected in line for line in str(err.value).splitlines()), err.value


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


COMBINATIONS = ([[f"model={m}"] for m in options("model") if m not in ("cyclegan", "pix2pix")]
                + [["model=cyclegan", "data=horse2zebra"], ["model=pix2pix", "data=facades"]]
                + [[f"loss={loss}"] for loss in options("loss")] + [[f"data={d}"] for d in options("data") if d != "toy2d"]
                + [[f"trainer={t}"] for t in options("trainer")] + [[f"logger={lg}"] for lg in options("logger")]
                + [[f"experiment={e}"] for e in options("experiment")]
                + [["hparams_search=cyclegan_optuna", "model=cyclegan", "data=horse2zebra"]])


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=lambda o: " ".join(o))
def test_every_shipped_option_passes_its_signatures(overrides, tmp_path):
    assert signature_problems(compose_train(overrides, tmp_path)) == []


def optimizers(module) -> list:
    found = module.configure_optimizers()
    found = found if isinstance(found, (list, tuple)) else [found]
    flat = [o for item in found for o in (item if isinstance(item, (list, tuple)) else [item])]
    return [o for o in flat if isinstance(o, torch.optim.Optimizer)]  # not the schedulers after them


def old_layout(cfg):
    """The config as runs stored it before 2026-12: optimizers in the loss node, no _target_ there, the
    model without loss/criterion/optimizers."""
    old = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(old):
        for key in ("optimizer_g", "optimizer_d"):
            if key in old.model:
                old.loss[key] = old.model.pop(key)
        old.model.pop("loss", None)
        old.model.pop("criterion", None)
        old.loss.pop("_target_")
        if OmegaConf.is_dict(old.loss.critic_schedule):
            old.loss.critic_schedule.pop("_target_")
    return old


@pytest.mark.parametrize("overrides", [["loss=wgan_clip_authors"], ["model=vae"], ["model=stylegan", "data.image_size=8"],
                                       ["model=cyclegan", "data=horse2zebra", "data.image_size=32"]])
def test_a_config_of_the_old_layout_builds_the_same_module(overrides, tmp_path):
    cfg = compose_train(overrides, tmp_path)
    new, old = build_module(cfg), build_module(old_layout(cfg))
    for a, b in zip(optimizers(new), optimizers(old), strict=True):
        assert type(a) is type(b) and a.defaults == b.defaults
    if isinstance(new, GANModule):
        assert repr(new.loss) == repr(old.loss)
    if isinstance(new, TranslationModule):
        assert type(new.criterion) is type(old.criterion)


def test_renamed_keys_name_their_new_place():
    assert renamed_key_errors(["loss.optimizer_g.lr=1e-3", "loss.n_critic=5", "+loss.optimizer_d.eps=1e-8"]) == [
        "loss.optimizer_g.lr is now model.optimizer_g.lr: write model.optimizer_g.lr=1e-3 (the optimizers are the "
        "model's, conf/optimizer/)",
        "loss.optimizer_d.eps is now model.optimizer_d.eps: write +model.optimizer_d.eps=1e-8 (the optimizers are the "
        "model's, conf/optimizer/)"]


def test_the_cli_refuses_a_wrong_type_before_writing_anything(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run([sys.executable, "train.py", "model.discriminator.spectral_norm=maybe", "logger=none",
                           f"hydra.run.dir={run_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "error: invalid configuration:\n  model.discriminator.spectral_norm='maybe' is invalid: expected bool" in done.stderr
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "samples").exists()
    done = subprocess.run([sys.executable, "train.py", "loss.optimizer_g.lr=1e-3"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "error: loss.optimizer_g.lr is now model.optimizer_g.lr" in done.stderr


@pytest.mark.parametrize(("loss", "dropped"), [("loss=logistic_r1", "loss.r1_weight=10.0"), ("loss.n_critic=2", "loss.n_critic=2"),
                                               ("loss=wgan_clip_authors", "loss.clip_value=0.01")])
def test_a_translation_model_refuses_a_loss_whose_parts_it_would_drop(loss, dropped, tmp_path):
    """CycleGAN and pix2pix take the loss's criterion alone: a penalty, clipping or extra critic steps would be
    silently ignored, so the config is refused naming them; the plain criteria pass."""
    with pytest.raises(ConfigError, match=re.escape(dropped)):
        validate(compose_train(["model=cyclegan", "data=horse2zebra", loss], tmp_path))
    for plain in ("lsgan", "bce", "hinge"):
        validate(compose_train(["model=pix2pix", "data=facades", f"loss={plain}"], tmp_path))
