"""Rebuild a trained LightningModule from a checkpoint alone (its resolved config travels inside it).

Checkpoints may come from elsewhere, so loading one never runs code it carries: ``torch.load`` with
``weights_only=True`` (tensors and plain containers only), and every ``_target_`` in the stored config
that gets instantiated (model, loss, data) must name a class of this package or of the libraries it
configures (torch optimizers, schedulers and layers).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from lightning import LightningModule
from omegaconf import OmegaConf

from gan_experiments.config import ConfigError

TRUSTED_TARGETS = ("gan_experiments.", "torch.optim.", "torch.nn.")
INSTANTIATED_KEYS = ("model", "loss", "data")


def foreign_targets(node: Any, where: str = "") -> list[str]:
    """``key=target`` for every ``_target_`` under ``node`` outside ``TRUSTED_TARGETS``."""
    if isinstance(node, dict):
        found = []
        target = node.get("_target_")
        if target is not None and not str(target).startswith(TRUSTED_TARGETS):
            found.append(f"{where or '.'}._target_={target}")
        for key, value in node.items():
            found += foreign_targets(value, f"{where}.{key}" if where else str(key))
        return found
    if isinstance(node, list):
        return [t for i, value in enumerate(node) for t in foreign_targets(value, f"{where}[{i}]")]
    return []


def read_checkpoint(path: Path, map_location: str = "cpu") -> dict:
    """The checkpoint's contents, unpickled with ``weights_only=True``; its config's targets checked."""
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as err:
        raise ConfigError(f"ckpt={path} is not a checkpoint that loads safely (it holds Python objects beyond "
                          f"tensors and plain containers, which could run code): {str(err).splitlines()[0]}") from err
    if not isinstance(checkpoint, dict) or "config" not in checkpoint:
        raise ConfigError(f"ckpt={path} holds no run config; it was not written by gan_experiments' train.py")
    foreign = foreign_targets({k: checkpoint["config"].get(k) for k in INSTANTIATED_KEYS})
    if foreign:
        raise ConfigError(f"ckpt={path} asks to build classes outside gan_experiments and torch "
                          f"({', '.join(foreign)}); refusing to instantiate them")
    return checkpoint


def load_module(ckpt: str | Path, map_location: str = "cpu") -> tuple[LightningModule, dict]:
    """The module of checkpoint ``ckpt`` with its trained weights, in eval mode, and the run's config."""
    from gan_experiments.pipeline import build_module  # pipeline imports tools for evaluate()

    path = Path(ckpt).expanduser()
    if not path.is_file():
        raise ConfigError(f"ckpt={path} does not exist; pass a checkpoint such as <run>/checkpoints/last.ckpt")
    checkpoint = read_checkpoint(path, map_location)
    module = build_module(OmegaConf.create(checkpoint["config"]))
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise ConfigError(f"ckpt={path}: its weights do not fit the model its stored config builds "
                          f"(written by another version of gan_experiments?): {err}") from err
    module.on_load_checkpoint(checkpoint)  # training state beyond weights, e.g. StyleGAN's growth phase
    return module.eval(), checkpoint["config"]
