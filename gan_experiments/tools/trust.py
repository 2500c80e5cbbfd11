"""What a config from elsewhere (the run config stored in a checkpoint) may build.

Hydra resolves a dotted ``_target_`` through module attributes, so the text of a path says little about
what it builds: ``gan_experiments.pipeline.Path.write_text`` is ``pathlib.Path.write_text`` and
``torch.nn.modules.module.torch.save`` is ``torch.save``. So the decision is made on the object the path
resolves to (the very object ``hydra.utils.instantiate`` would call), at every nesting level (``_args_``,
list items, ``_partial_`` factories), before anything is instantiated:

- a class defined in one of ``ALLOWED_KINDS``' packages that subclasses that entry's base class: the
  project's LightningModules, networks, adversarial criteria and DataModules; torch's layers, optimizers
  and LR schedulers;
- or, when the user says they trust it (``allow_targets=[my_package]``), a class or function defined in
  that module or below it.

Everything else is refused: functions of this package (some write files), classes of other kinds,
anything reached through an attribute chain into another module, and interpolations (``${...}``: a stored
config is saved resolved, so a real one holds none, and a resolver such as ``oc.create`` could build a new
``_target_`` node after this check). A path is resolved only after its text starts with a trusted
package, so no foreign module is ever imported by the check itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any

from hydra._internal.utils import _locate  # what instantiate itself calls; get_object would log errors
from lightning import LightningDataModule, LightningModule
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from gan_experiments.errors import ConfigError
from gan_experiments.losses import AdversarialLoss, CriticSchedule, GANLoss, StyleGAN2Loss

# (package the class is defined in, base class it must subclass)
ALLOWED_KINDS: tuple[tuple[str, type], ...] = (
    ("gan_experiments.models", LightningModule),
    ("gan_experiments.data", LightningDataModule),
    ("gan_experiments.networks", nn.Module),
    ("gan_experiments.training", nn.Module),
    ("gan_experiments.losses", AdversarialLoss),
    # the loss group's objective and its critic schedule: plain values, no side effects
    ("gan_experiments.losses", GANLoss),
    ("gan_experiments.losses", StyleGAN2Loss),
    ("gan_experiments.losses", CriticSchedule),
    ("torch.nn", nn.Module),
    ("torch.optim", Optimizer),
    ("torch.optim", LRScheduler),
)
WHAT_IS_ALLOWED = ("gan_experiments' models, networks, losses and DataModules, and torch.nn layers, "
                   "torch.optim optimizers and schedulers")


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _describe(obj: Any) -> str:
    kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else type(obj).__name__
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)[:60]
    return f"the {kind} {getattr(obj, '__module__', '?')}.{name}"


def target_problem(target: Any, allow_targets: Sequence[str] = ()) -> str | None:
    """Why ``target`` (a ``_target_`` value) may not be built from a stored config, or None if it may."""
    if not isinstance(target, str):
        return f"is a {type(target).__name__}, not a dotted path"
    roots = {package.split(".")[0] for package, _ in ALLOWED_KINDS} | set(allow_targets)
    if not any(_within(target, root) for root in roots):
        return "is outside gan_experiments and torch"
    try:
        obj = _locate(target)
    except Exception as err:  # noqa: BLE001 - any failure to resolve is a refusal, with its reason
        return f"does not resolve ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
    module = getattr(obj, "__module__", None) or ""
    if any(_within(module, mine) for mine in allow_targets) and (inspect.isclass(obj) or inspect.isfunction(obj)):
        return None  # a module the user said they trust
    if inspect.isclass(obj) and any(_within(module, package) and issubclass(obj, base)
                                    for package, base in ALLOWED_KINDS):
        return None
    return f"resolves to {_describe(obj)}"


def untrusted_nodes(node: Any, allow_targets: Sequence[str] = (), where: str = "") -> Iterable[str]:
    """``key: reason`` for every ``_target_`` under ``node`` that may not be built, and every interpolation."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                problem = target_problem(value, allow_targets)
                if problem:
                    yield f"{path}={value!r} {problem}"
            else:
                yield from untrusted_nodes(value, allow_targets, path)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from untrusted_nodes(value, allow_targets, f"{where}[{i}]")
    elif isinstance(node, str) and "${" in node:
        yield f"{where}={node!r} is an interpolation (a run config is stored resolved, without any)"


def check_trusted(config: dict, source: str, allow_targets: Sequence[str] = ()) -> None:
    """Raise ``ConfigError`` naming every node of ``config`` that ``untrusted_nodes`` refuses."""
    problems = list(untrusted_nodes(config, tuple(allow_targets)))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ConfigError(f"{source} asks to build what a checkpoint may not ({shown}). A checkpoint may build "
                          f"{WHAT_IS_ALLOWED}; to trust a module of your own, pass allow_targets=[<module name>]")
