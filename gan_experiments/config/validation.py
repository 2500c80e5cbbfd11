"""Checks of a composed config before anything is built, each naming the key and what it accepts.

Hydra already refuses unknown config group choices (listing the available ones); these rules catch
wrong values. A rule applies only where its key exists in the composed config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gan_experiments.networks.layers import NORMS

_MISSING = object()
PRECISIONS = ("64", "64-true", "32", "32-true", "16", "16-mixed", "bf16", "bf16-mixed", "16-true", "bf16-true")


class ConfigError(ValueError):
    """A config value is wrong; the message names the key, the value and what is accepted."""


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Rule:
    key: str
    check: Callable[[Any], bool]
    accepts: str
    when: Callable[[DictConfig], bool] = lambda cfg: True


def _uses_dcgan(cfg: DictConfig) -> bool:
    return "DCGAN" in str(OmegaConf.select(cfg, "model.generator._target_", default=""))


def _model_is(name: str) -> Callable[[DictConfig], bool]:
    return lambda cfg: str(OmegaConf.select(cfg, "model._target_", default="")).endswith(name)


RULES = [
    Rule("seed", lambda v: v is None or _int(v), "an integer or null"),
    Rule("ckpt_path", lambda v: v in (None, "auto") or (isinstance(v, str) and Path(v).expanduser().is_file()),
         "an existing checkpoint file, auto (the newest checkpoint of this run directory, if any) or null"),
    Rule("data.batch_size", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("data.num_workers", lambda v: _int(v) and v >= 0, "an integer >= 0"),
    Rule("data.image_size", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule(
        "data.image_size",
        lambda v: _int(v) and v >= 8 and v & (v - 1) == 0,
        "a power of two >= 8 (8, 16, 32, 64, ...) for DCGAN networks",
        when=_uses_dcgan,
    ),
    Rule("data.channels", lambda v: v in (1, 3), "1 or 3"),
    Rule("data._target_", lambda v: v.endswith("UnpairedDataModule"),
         "unpaired data for model=cyclegan: data=horse2zebra (or data.name=...), or data=unpaired data.path=DIR",
         when=_model_is("CycleGANModule")),
    Rule("data._target_", lambda v: v.endswith(".PairedDataModule"),
         "paired data for model=pix2pix: data=facades (or data.name=...), or data=paired data.path=DIR",
         when=_model_is("Pix2PixModule")),
    Rule("model.lambda_cycle", lambda v: _number(v) and v >= 0, "a number >= 0"),
    Rule("model.lambda_identity", lambda v: _number(v) and v >= 0, "a number >= 0 (a fraction of lambda_cycle)"),
    Rule("model.lambda_l1", lambda v: _number(v) and v >= 0, "a number >= 0"),
    Rule("model.pool_size", lambda v: _int(v) and v >= 0, "an integer >= 0 (0: no image pool)"),
    Rule("model.n_epochs", lambda v: _int(v) and v >= 0, "an integer >= 0"),
    Rule("model.n_epochs_decay", lambda v: _int(v) and v >= 0, "an integer >= 0"),
    Rule("data.direction", lambda v: v in ("AtoB", "BtoA"), "AtoB or BtoA"),
    Rule("data.val_fraction", lambda v: _number(v) and 0 < v < 1, "a number in (0, 1)"),
    Rule("data.path", lambda v: v is None or (isinstance(v, str) and Path(v).expanduser().is_dir()),
         "an existing folder of images"),
    Rule("data.bad_images", lambda v: v in ("skip", "error"), "skip (warn and train without them) or error"),
    Rule("data.check_images", lambda v: isinstance(v, bool), "true or false"),
    Rule("data.train_size", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("model.generator.latent_dim", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("loss.n_critic", lambda v: _int(v) and v >= 1, "an integer >= 1 (discriminator steps per generator step)"),
    Rule("loss.gp_weight", lambda v: _number(v) and v >= 0, "a number >= 0"),
    Rule("loss.r1_weight", lambda v: _number(v) and v >= 0, "a number >= 0"),
    Rule("loss.clip_value", lambda v: v is None or (_number(v) and v > 0), "a number > 0, or null for no clipping"),
    Rule("loss.critic_norm", lambda v: v in NORMS, f"one of {', '.join(NORMS)}"),
    Rule("loss.optimizer_g.lr", lambda v: _number(v) and v > 0, "a number > 0"),
    Rule("loss.optimizer_d.lr", lambda v: _number(v) and v > 0, "a number > 0"),
    Rule("metrics.features", lambda v: v in ("auto", "inception", "classifier"), "auto, inception or classifier"),
    Rule("metrics.num_samples", lambda v: _int(v) and v >= 2, "an integer >= 2"),
    Rule("metrics.every_n_epochs", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("metrics.batch_size", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("metrics.k", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("trainer.max_epochs", lambda v: v is None or (_int(v) and (v >= 1 or v == -1)), "an integer >= 1, or -1"),
    Rule("trainer.precision", lambda v: str(v) in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    Rule(
        "trainer.devices",
        lambda v: v == "auto" or (_int(v) and (v >= 1 or v == -1)) or OmegaConf.is_list(v),
        "an integer >= 1, -1 (all), 'auto' or a list of device ids",
    ),
]


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` listing every rule the config breaks (all at once, not one per attempt)."""
    problems = []
    for rule in RULES:
        try:
            value = OmegaConf.select(cfg, rule.key, default=_MISSING, throw_on_missing=True)
        except Exception as err:  # a missing mandatory value (???) or a broken interpolation
            problems.append(f"{rule.key}: {err}")
            continue
        if value is _MISSING or not rule.when(cfg):
            continue
        if not rule.check(value):
            problems.append(f"{rule.key}={value!r} is invalid: expected {rule.accepts}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def check_multirun_strategy(cfg: DictConfig) -> None:
    """Refuse ``strategy=ddp*`` (not ddp_spawn) inside a Hydra multirun unless SLURM launches the ranks:
    ``ddp`` re-executes the command line for ranks > 0, so every rank would re-run the whole sweep."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return
    strategy = str(OmegaConf.select(cfg, "trainer.strategy", default="auto"))
    launcher = str(OmegaConf.select(HydraConfig.get(), "launcher._target_", default=""))
    if strategy.startswith("ddp") and "spawn" not in strategy and "submitit" not in launcher:
        raise ConfigError(
            f"trainer.strategy={strategy} inside a multirun (-m): ddp re-launches the command line for every rank, "
            "so each rank would re-run the sweep. Use trainer=ddp_spawn, one device per job (trainer=default), "
            "or hydra/launcher=slurm"
        )
