"""Build the parts of a run from their config nodes: ``build`` (any node, by Hydra), ``build_loss`` (the
``loss`` group) and ``build_module`` (the model's LightningModule, its loss and optimizers inside its node).

Below the pipeline and the tools, so both can rebuild a module from a config (``train`` from the run's
config, ``tools.checkpoints`` from the config stored in a checkpoint); ``gan_experiments.pipeline``
re-exports all three.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from gan_experiments.errors import ConfigError
from gan_experiments.losses import CriticSchedule, GANLoss


def build(cfg: DictConfig, what: str, **kwargs) -> Any:
    """``hydra.utils.instantiate`` whose failures become a ``ConfigError`` naming the config key."""
    try:
        return instantiate(cfg, **kwargs)
    except InstantiationException as err:
        raise ConfigError(f"could not build {what}: {err}") from err


def build_loss(cfg: DictConfig) -> GANLoss:
    """The ``loss`` group's objective (its node has ``_target_: gan_experiments.losses.GANLoss``)."""
    return build(cfg, "loss")


# Config layout before the optimizers moved into the model (2026-12): ``loss.optimizer_g`` /
# ``loss.optimizer_d`` and a loss node without ``_target_``, read by hand. Checkpoints store their run's
# config, so those written then are still rebuilt from it (evaluate.py, ckpt_path=...).
_LEGACY_LOSS_KEYS = ("optimizer_g", "optimizer_d")


def upgrade_legacy_config(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` in today's layout when it is in the old one (else ``cfg`` itself): the loss node
    gets ``_target_: GANLoss`` (without its optimizers), the model its optimizers and ``loss: ${loss}``
    (translation models ``criterion: ${loss.criterion}``), each only where the model's class takes it."""
    loss = cfg.get("loss")
    if not OmegaConf.is_dict(loss) or "_target_" in loss or "criterion" not in loss:
        return cfg
    cfg = copy.deepcopy(cfg)
    accepted = _parameters(cfg.model)
    with open_dict(cfg):
        for key in _LEGACY_LOSS_KEYS:
            node = cfg.loss.pop(key, None)
            if node is not None and key in accepted and key not in cfg.model:
                cfg.model[key] = node
        cfg.loss["_target_"] = f"{GANLoss.__module__}.{GANLoss.__qualname__}"
        schedule = cfg.loss.get("critic_schedule")
        if OmegaConf.is_dict(schedule) and "_target_" not in schedule:
            cfg.loss.critic_schedule["_target_"] = f"{CriticSchedule.__module__}.{CriticSchedule.__qualname__}"
        if "loss" in accepted and "loss" not in cfg.model:
            cfg.model["loss"] = "${loss}"
        if "criterion" in accepted and "criterion" not in cfg.model:
            cfg.model["criterion"] = "${loss.criterion}"
    return cfg


def _parameters(model: DictConfig) -> set[str]:
    try:
        return set(inspect.signature(get_class(model._target_)).parameters)
    except Exception as err:  # noqa: BLE001 - an unknown class is reported by key
        raise ConfigError(f"model._target_={model.get('_target_')!r} is not a class: {err}") from err


def build_module(cfg: DictConfig) -> L.LightningModule:
    """The model's LightningModule, built by Hydra from ``cfg.model`` with everything in it: networks, the
    loss (``loss: ${loss}``) and the optimizer factories (``optimizer_g``, ``optimizer_d``). A config of the
    old layout (optimizers under ``loss``, as checkpoints written before 2026-12 store it) is upgraded
    first (``upgrade_legacy_config``)."""
    return build(upgrade_legacy_config(cfg).model, "model")
