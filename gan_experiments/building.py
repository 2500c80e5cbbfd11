"""Build the parts of a run from their config nodes: ``build`` (any node), ``build_loss`` (the ``loss``
group) and ``build_module`` (the model's LightningModule with its loss and optimizers passed in).

Below the pipeline and the tools, so both can rebuild a module from a config (``train`` from the run's
config, ``tools.checkpoints`` from the config stored in a checkpoint); ``gan_experiments.pipeline``
re-exports all three.
"""

from __future__ import annotations

import inspect
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from gan_experiments.errors import ConfigError
from gan_experiments.losses import GANLoss


def build(cfg: DictConfig, what: str, **kwargs) -> Any:
    """``hydra.utils.instantiate`` whose failures become a ``ConfigError`` naming the config key."""
    try:
        return instantiate(cfg, **kwargs)
    except InstantiationException as err:
        raise ConfigError(f"could not build {what}: {err}") from err


def build_loss(cfg: DictConfig) -> GANLoss:
    """The ``loss`` group: criterion, critic constraint and schedule (its optimizers are built separately).
    ``loss.critic_schedule``: null (``n_critic`` throughout) or a node of ``CriticSchedule``'s fields, each
    optional (``{}`` is the WGAN authors' schedule); a wrong key or value names ``loss.critic_schedule...``."""
    from dataclasses import fields

    from gan_experiments.losses.objective import CriticSchedule

    node = cfg.get("critic_schedule")
    schedule = None
    if node is not None:
        names = [field.name for field in fields(CriticSchedule)]
        if not OmegaConf.is_dict(node):
            raise ConfigError(f"loss.critic_schedule={node!r} is invalid: expected null (loss.n_critic throughout) "
                              f"or a node with the keys {', '.join(names)}, e.g. loss=wgan_clip_authors")
        unknown = sorted(set(node) - set(names))
        if unknown:
            raise ConfigError(f"loss.critic_schedule has no key {', '.join(map(repr, unknown))}: "
                              f"its keys are {', '.join(names)}")
        try:
            schedule = CriticSchedule(**OmegaConf.to_container(node, resolve=True))
        except ValueError as err:
            raise ConfigError(f"loss.critic_schedule.{err}") from err
    try:
        return GANLoss(
            criterion=build(cfg.criterion, "loss.criterion"),
            n_critic=cfg.n_critic,
            gp_weight=cfg.gp_weight,
            clip_value=cfg.clip_value,
            r1_weight=cfg.get("r1_weight", 0.0),
            critic_schedule=schedule,
        )
    except ValueError as err:
        raise ConfigError(f"loss: {err}") from err


def build_module(cfg: DictConfig) -> L.LightningModule:
    """The model's LightningModule with its networks, the loss object and the loss's optimizer factories
    (those of them its constructor takes: a VAE takes only ``optimizer_g``)."""
    parts = {
        "loss": lambda: build_loss(cfg.loss),
        "optimizer_g": lambda: build(cfg.loss.optimizer_g, "loss.optimizer_g"),
        "optimizer_d": lambda: build(cfg.loss.optimizer_d, "loss.optimizer_d"),
    }
    try:
        accepted = inspect.signature(get_class(cfg.model._target_)).parameters
    except Exception as err:  # noqa: BLE001 - an unknown class is reported by key
        raise ConfigError(f"model._target_={cfg.model.get('_target_')!r} is not a class: {err}") from err
    return build(cfg.model, "model", **{name: make() for name, make in parts.items() if name in accepted})
