"""Rebuild a trained LightningModule from a checkpoint alone (its resolved config travels inside it)."""

from __future__ import annotations

from pathlib import Path

import torch
from lightning import LightningModule
from omegaconf import OmegaConf

from gan_experiments.config import ConfigError


def load_module(ckpt: str | Path, map_location: str = "cpu") -> tuple[LightningModule, dict]:
    """The module of checkpoint ``ckpt`` with its trained weights, in eval mode, and the run's config."""
    from gan_experiments.pipeline import build_module  # pipeline imports tools for evaluate()

    path = Path(ckpt).expanduser()
    if not path.is_file():
        raise ConfigError(f"ckpt={path} does not exist; pass a checkpoint such as <run>/checkpoints/last.ckpt")
    checkpoint = torch.load(path, map_location=map_location, weights_only=False)
    if "config" not in checkpoint:
        raise ConfigError(f"ckpt={path} holds no run config; it was not written by gan_experiments' train.py")
    config = OmegaConf.create(checkpoint["config"])
    module = build_module(config)
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise ConfigError(f"ckpt={path}: its weights do not fit the model its stored config builds "
                          f"(written by another version of gan_experiments?): {err}") from err
    module.on_load_checkpoint(checkpoint)  # training state beyond weights, e.g. StyleGAN's growth phase
    return module.eval(), checkpoint["config"]
