"""Checks of a composed config before anything is built, each naming the key and what it accepts.

Hydra already refuses unknown config group choices (listing the available ones); these rules catch
wrong values. A rule applies only where its key exists in the composed config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from gan_experiments.config.signatures import signature_problems
from gan_experiments.errors import ConfigError, MultirunError
from gan_experiments.metrics.protocols import PROTOCOLS
from gan_experiments.models.translation import TranslationModule
from gan_experiments.networks.layers import NORMS

_MISSING = object()


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


def _module_names(v: Any) -> bool:
    return OmegaConf.is_list(v) and all(isinstance(m, str) and all(p.isidentifier() for p in m.split(".")) for m in v)


def _not_a_file(v: Any) -> bool:
    return v is None or not Path(str(v)).expanduser().is_file()


# numpy's legacy seeding (and Lightning's seed_everything) take 0 <= seed < 2**32
RULES = [
    Rule("seed", lambda v: v is None or (_int(v) and 0 <= v < 2**32), "an integer in [0, 2**32 - 1], or null"),
    Rule("overwrite", lambda v: isinstance(v, bool), "true or false"),
    Rule("allow_targets", _module_names, "a list of module names, e.g. [my_gans] or [my_lab.models]"),
    # evaluate.py's shared options (each task's own: config/task_schemas.py)
    Rule("out_dir", _not_a_file, "a folder to write images into (this is a file)"),
    Rule("model.test_mode", lambda v: v in ("paper", "eval"),
         "paper (dropout on, each image's own batch statistics) or eval (running statistics, no dropout)"),
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
    Rule("model.diffaugment", lambda v: v is None or (OmegaConf.is_list(v) and len(v) > 0
                                                      and all(p in ("color", "translation", "cutout") for p in v)),
         "null or a list of color, translation, cutout, e.g. [color,translation,cutout]"),
    *(Rule(f"callbacks.{name}.every_n_epochs", lambda v: _int(v) and v >= 1, "an integer >= 1")
      for name in ("sample_grid", "translation_panels", "reconstructions")),
    Rule("callbacks.gradient_clipping.max_norm", lambda v: v is None or (_number(v) and v > 0), "a number > 0 or null"),
    Rule("callbacks.nonfinite_guard.action", lambda v: v in ("stop", "skip"), "stop or skip"),
    Rule("data.train_subset", lambda v: v is None or (_int(v) and v >= 1), "an integer >= 1, or null for all"),
    Rule("data.train_size", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("model.generator.latent_dim", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("loss.n_critic", lambda v: _int(v) and v >= 1, "an integer >= 1 (discriminator steps per generator step)"),
    Rule("loss.gp_weight", lambda v: _number(v) and v >= 0, "a number >= 0"),
    Rule("loss.r1_weight", lambda v: _number(v) and v >= 0, "a number >= 0"),
    Rule("loss.critic_schedule", lambda v: v is None or OmegaConf.is_dict(v),
         "null (loss.n_critic throughout) or a node with keys warmup_generator_steps, warmup_n_critic, "
         "warmup_every, generator_step_at_epoch_end, e.g. loss=wgan_clip_authors"),
    Rule("loss.clip_value", lambda v: v is None or (_number(v) and v > 0), "a number > 0, or null for no clipping"),
    Rule("loss.critic_norm", lambda v: v in NORMS, f"one of {', '.join(NORMS)}"),
    Rule("model.optimizer_g.lr", lambda v: _number(v) and v > 0, "a number > 0"),
    Rule("model.optimizer_d.lr", lambda v: _number(v) and v > 0, "a number > 0"),
    Rule("metrics.features", lambda v: v in ("auto", "inception", "classifier"), "auto, inception or classifier"),
    Rule("metrics.protocol", lambda v: v is None or v in PROTOCOLS, f"null (custom) or one of {', '.join(PROTOCOLS)}"),
    Rule("metrics.protocol_num_fake", lambda v: v is None or (_int(v) and v >= 2), "an integer >= 2, or null"),
    Rule("metrics.pr_features", lambda v: v in ("same", "vgg16"), "same (FID's features) or vgg16"),
    Rule("metrics.num_samples", lambda v: _int(v) and v >= 2, "an integer >= 2"),
    Rule("metrics.every_n_epochs", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("metrics.batch_size", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("metrics.k", lambda v: _int(v) and v >= 1, "an integer >= 1"),
    Rule("trainer.max_epochs", lambda v: v is None or (_int(v) and (v >= 1 or v == -1)), "an integer >= 1, or -1"),
    Rule(
        "trainer.devices",
        lambda v: v == "auto" or (_int(v) and (v >= 1 or v == -1)) or OmegaConf.is_list(v),
        "an integer >= 1, -1 (all), 'auto' or a list of device ids",
    ),
]


def _probability(v: Any) -> bool:
    return _number(v) and 0 <= v < 1


# Options checked by name wherever they appear (model.generator.base_channels, model.discriminator_a.n_layers,
# callbacks.sample_grid.every_n_epochs, ...): the last part of the key -> (check, accepted values).
FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{name: (lambda v: _int(v) and v >= 1, "an integer >= 1") for name in (
        "base_channels", "n_layers", "num_samples", "num_images", "per_class", "mapping_layers",
        "w_dim", "max_channels", "noise_dim", "classifier_steps", "log_every_n_steps", "val_size",
        "max_consecutive_skips", "mbstd_group_size", "in_channels", "out_channels", "smoothing")},
    **{name: (lambda v: v is None or (_int(v) and v >= 1), "an integer >= 1, or null for the default") for name in (
        "n_blocks", "num_downs", "load_size")},
    **{name: (lambda v: _int(v) and v >= 0, "an integer >= 0") for name in (
        "continuous", "split_seed", "fade_images", "stable_images")},
    # Lightning's checkpoint cadence may be 0 (never); our image callbacks need >= 1 (RULES below)
    "every_n_epochs": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
    "save_top_k": (lambda v: _int(v) and v >= -1, "an integer >= -1 (-1: keep all)"),
    "categorical": (lambda v: _int(v) and v >= 2, "an integer >= 2 (InfoGAN's categorical code)"),
    "fmap_base": (lambda v: v is None or (_int(v) and v >= 1), "an integer >= 1, or null for the relative CPU-sized widths"),
    "fmap_decay": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    **{name: (_probability, "a number in [0, 1)") for name in ("ema_decay", "w_avg_beta")},
    **{name: (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]") for name in ("dropout", "style_mixing_prob")},
    **{name: (lambda v: _number(v) and v > 0, "a number > 0") for name in ("lr", "eps", "mapping_lr_mul")},
    **{name: (lambda v: _number(v) and v >= 0, "a number >= 0") for name in (
        "lambda_info", "lambda_continuous", "lambda_cycle", "lambda_identity", "lambda_l1", "r1_weight", "gp_weight")},
    "deterministic": (lambda v: isinstance(v, bool) or v == "warn", "true, false or warn"),
    "betas": (lambda v: OmegaConf.is_list(v) and len(v) == 2 and all(_probability(b) for b in v),
              "two numbers in [0, 1), e.g. [0.5, 0.999]"),
    "inception_weights": (lambda v: v is None or Path(str(v)).expanduser().is_file(),
                          "an existing weights file, or null for the torch hub cache (and metrics.inception_url)"),
    **{name: (lambda v: v in (None, "") or (isinstance(v, str) and v.startswith(("http://", "https://", "file://"))),
              "an http(s) URL of the weights file, or null / '' (never download)") for name in ("inception_url", "vgg16_url")},
    "vgg16_weights": (lambda v: v is None or Path(str(v)).expanduser().is_file(),
                      "an existing weights file, or null for the torch hub cache (and metrics.vgg16_url)"),
    "limit_train_batches": (lambda v: (_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1),
                            "a fraction in (0, 1] or a number of batches >= 1"),
}
_CHECKED_GROUPS = ("model", "data", "loss", "metrics", "callbacks", "trainer")


def _leaf_keys(node: Any, prefix: str) -> list[str]:
    """Dotted keys of the leaves under ``node`` (a plain container with interpolations unresolved)."""
    if isinstance(node, dict):
        return [key for k, v in node.items() for key in _leaf_keys(v, f"{prefix}.{k}")]
    return [prefix]


def _field_problems(cfg: DictConfig, ruled: set[str]) -> list[str]:
    problems = []
    for group in _CHECKED_GROUPS:
        node = cfg.get(group)
        if not OmegaConf.is_dict(node):
            continue
        for key in _leaf_keys(OmegaConf.to_container(node, resolve=False), group):
            field = key.rsplit(".", 1)[-1]
            if field not in FIELDS or key in ruled:
                continue
            try:
                value = OmegaConf.select(cfg, key, throw_on_missing=True)
            except Exception as err:  # noqa: BLE001 - a missing value or broken interpolation, reported by key
                problems.append(f"{key}: {err}")
                continue
            check, accepts = FIELDS[field]
            if not check(value):
                problems.append(f"{key}={value!r} is invalid: expected {accepts}")
    return problems


def _translation_loss_problems(cfg: DictConfig) -> list[str]:
    """A translation model takes only the loss's criterion (``criterion: ${loss.criterion}``): a loss whose
    penalty, clipping or critic steps it would silently drop (loss=logistic_r1, wgan_clip) is refused."""
    target, loss = OmegaConf.select(cfg, "model._target_"), cfg.get("loss")
    if not isinstance(target, str) or not OmegaConf.is_dict(loss) or "criterion" not in cfg.model:
        return []
    try:
        is_translation = issubclass(get_class(target), TranslationModule)
    except Exception:  # noqa: BLE001 - an unknown class is reported when it is built
        return []
    dropped = [f"loss.{key}={loss.get(key)}" for key, unused in (("gp_weight", 0), ("r1_weight", 0),
               ("clip_value", None), ("n_critic", 1), ("critic_schedule", None))
               if key in loss and loss.get(key) not in (unused, 0.0)]
    if is_translation and dropped:
        return [f"{', '.join(dropped)}: {target.rsplit('.', 1)[-1]} trains D and G once per batch with the loss's "
                "criterion alone (no penalties, clipping or extra critic steps): use loss=lsgan, bce or hinge"]
    return []


def validate(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` listing every rule the config breaks (all at once, not one per attempt):
    the key-specific ``RULES``, ``FIELDS`` by option name across the config groups, then every
    ``_target_`` node against its target's signature (``config/signatures.py``: unknown keys, wrong types)
    and the cross-group rules."""
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
    problems += _field_problems(cfg, {rule.key for rule in RULES})
    problems += signature_problems(cfg)
    problems += _translation_loss_problems(cfg)
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
        raise MultirunError(
            f"trainer.strategy={strategy} inside a multirun (-m): ddp re-launches the command line for every rank, "
            "so each rank would re-run the sweep. Use trainer=ddp_spawn, one device per job (trainer=default), "
            "or hydra/launcher=slurm"
        )
