"""Read checkpoints from elsewhere safely, and rebuild a trained LightningModule from one alone (its
resolved run config travels inside it).

Loading a checkpoint never runs code it carries: ``torch.load`` with ``weights_only=True`` (tensors and
plain containers only), and what its stored config may build is decided by ``tools.trust`` on the objects
the ``_target_`` paths resolve to. A damaged file (empty, truncated, a failed CRC) or a file that is not a
train.py checkpoint (a plain state_dict, another program's file) is named with what is wrong with it.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning import LightningModule
from omegaconf import DictConfig, OmegaConf

from gan_experiments.building import build_module
from gan_experiments.errors import ConfigError
from gan_experiments.tools.trust import check_trusted

INSTANTIATED_KEYS = ("model", "loss", "data")


def _damage(path: Path) -> str | None:
    """What is wrong with the file as a container (before unpickling anything), or None."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            return f"is a damaged archive ({err})"
        if bad is not None:
            return f"is corrupted: its member {bad} fails its CRC check (a damaged copy?)"
    return None


def _unpickle(path: Path, map_location: str, key: str):
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        message = str(err)
        if "GLOBAL" in message:
            found = next((line.strip() for line in message.splitlines() if "GLOBAL" in line), "")
            raise ConfigError(f"{key}={path} is not a checkpoint that loads safely: it holds Python objects beyond "
                              f"tensors and plain containers, which could run code ({found}); refusing it") from err
        raise ConfigError(f"{key}={path} does not load safely: its pickle uses instructions outside torch's "
                          "weights-only subset (a damaged file, or one holding Python objects that could run "
                          "code); refusing it") from err
    except (EOFError, OSError, RuntimeError, KeyError, ValueError, AttributeError, TypeError, IndexError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{key}={path} cannot be read: it is truncated or damaged ({first})") from err


def read_checkpoint(path: str | Path, map_location: str = "cpu", key: str = "ckpt",
                    allow_targets: Sequence[str] = ()) -> dict:
    """The contents of a checkpoint written by train.py, unpickled with ``weights_only=True``, whose stored
    config may build only trusted classes (``tools.trust``). ``key`` names the option in messages."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{key}={path} does not exist; pass a checkpoint such as <run>/checkpoints/last.ckpt")
    damage = _damage(path)
    if damage:
        raise ConfigError(f"{key}={path} {damage}")
    checkpoint = _unpickle(path, map_location, key)
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"{key}={path} holds a {type(checkpoint).__name__}, not a train.py checkpoint")
    if "state_dict" not in checkpoint:
        what = ("a plain state_dict (weights only)" if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values())
                else "no state_dict")
        raise ConfigError(f"{key}={path} holds {what}, not a train.py checkpoint: use a <run>/checkpoints/*.ckpt file")
    if not isinstance(checkpoint.get("config"), dict):
        raise ConfigError(f"{key}={path} holds no run config; it was not written by gan_experiments' train.py")
    check_trusted({k: checkpoint["config"].get(k) for k in INSTANTIATED_KEYS}, f"{key}={path}", allow_targets)
    return checkpoint


def check_fits(checkpoint: dict, module: LightningModule, source: str) -> None:
    """Refuse a checkpoint whose weights do not fit ``module`` (another model or other sizes), or that holds
    non-finite weights or optimizer state (the run had diverged when it was written)."""
    stored, expected = checkpoint["state_dict"], module.state_dict()
    wrong = [f"{k} missing" for k in expected if k not in stored][:2]
    wrong += [f"{k} unexpected" for k in stored if k not in expected][:2]
    wrong += [f"{k} is {list(_shape(stored[k]) or [])} there, {list(_shape(v) or [])} here"
              for k, v in expected.items() if k in stored and _shape(stored[k]) != _shape(v)][:2]
    if wrong:
        raise ConfigError(f"{source} was written by another model than this run's ({'; '.join(wrong)}): resume "
                          "with the settings it was trained with (its run's .hydra/config.yaml), or start a new run")
    bad = [name for name, tensor in _tensors(checkpoint.get("state_dict"), "state_dict")
           + _tensors(checkpoint.get("optimizer_states"), "optimizer_states")
           if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise ConfigError(f"{source} holds non-finite values ({', '.join(bad[:3])}): the run had diverged when it "
                          "was written; resume from an earlier checkpoint or start a new run")


def _shape(value: Any) -> torch.Size | None:
    """The shape of a stored tensor; None for anything else a state_dict may hold (a module's extra state)."""
    return value.shape if isinstance(value, torch.Tensor) else None


def _tensors(node: Any, where: str) -> list[tuple[str, torch.Tensor]]:
    if isinstance(node, torch.Tensor):
        return [(where, node)]
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in _tensors(v, f"{where}.{k}")]
    if isinstance(node, (list, tuple)):
        return [t for i, v in enumerate(node) for t in _tensors(v, f"{where}[{i}]")]
    return []


def load_module(ckpt: str | Path, map_location: str = "cpu",
                allow_targets: Sequence[str] = ()) -> tuple[LightningModule, dict]:
    """The module of checkpoint ``ckpt`` with its trained weights, in eval mode, and the parts of the
    run's config it was built from (``model``, ``loss``, ``data``)."""
    checkpoint = read_checkpoint(ckpt, map_location, allow_targets=allow_targets)
    config = {k: checkpoint["config"].get(k) for k in INSTANTIATED_KEYS}
    module = build_module(OmegaConf.create(config))
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise ConfigError(f"ckpt={ckpt}: its weights do not fit the model its stored config builds "
                          f"(written by another version of gan_experiments?): {str(err).splitlines()[0]}") from err
    module.on_load_checkpoint(checkpoint)  # training state beyond weights, e.g. StyleGAN's growth phase
    return module.eval(), config


def checkpoint_module(cfg: DictConfig, ckpt: str | None, map_location: str = "cpu") -> tuple[LightningModule, dict]:
    """``load_module`` of a task's ``ckpt``, trusting the modules in the evaluate config's ``allow_targets``."""
    if not ckpt:
        raise ConfigError("this task needs a checkpoint: pass ckpt=<run>/checkpoints/last.ckpt")
    return load_module(ckpt, map_location, allow_targets=tuple(cfg.get("allow_targets") or ()))
