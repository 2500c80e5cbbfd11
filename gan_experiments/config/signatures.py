"""Typed configs from the constructors themselves: every config node with a ``_target_`` is checked, before
anything is built, against the signature of the class or function it names. A key the callable does not take
is refused (with the keys it does take), and a value that does not match the parameter's annotation
(``int``, ``float``, ``bool``, ``str``, ``Optional``, ``Union``, ``Literal``, ``tuple``, ``list``, ...) is
refused with its full key, e.g. ``model.discriminator.spectral_norm='maybe' is invalid: expected bool``.

Why signatures and not hand-written schemas (dataclasses in Hydra's ConfigStore, hydra-zen): the
constructors' annotations already are the schema, so nothing is written twice; dataclass schemas would
repeat every parameter of every network, loss, callback and of Lightning's Trainer in a second place that
drifts. Values are checked with pydantic's strict mode (``1`` is not a ``bool``, ``1.5`` not an ``int``;
an ``int`` is a ``float``). Nodes built with ``_partial_`` are checked too (their missing arguments come
later); parameters without an annotation, or with one pydantic cannot check, are not checked.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf
from pydantic import ConfigDict, TypeAdapter, ValidationError

CHECKED_GROUPS = ("model", "loss", "data", "trainer", "metrics", "callbacks", "logger")
_ARBITRARY = ConfigDict(arbitrary_types_allowed=True)


def signature_problems(cfg: DictConfig, groups: tuple[str, ...] = CHECKED_GROUPS) -> list[str]:
    """One message per key of ``cfg``'s ``_target_`` nodes (under ``groups``) that the target's signature
    does not accept: an unknown key, or a value of the wrong type. A node reached through an interpolation
    (``model.loss: ${loss}``) is checked where it is defined, once."""
    problems = []
    for group in groups:
        node = cfg.get(group)
        if isinstance(node, (DictConfig, ListConfig)):
            for key, target_node in _target_nodes(node, group):
                try:
                    values = OmegaConf.to_container(target_node, resolve=True)
                except Exception:  # noqa: BLE001 - a missing value (???) or broken interpolation: building the
                    continue  # node reports it by key, or a rule does first (e.g. an image model on toy2d points)
                problems += _node_problems(key, values)
    return problems


def _target_nodes(node: DictConfig | ListConfig, key: str) -> Iterator[tuple[str, DictConfig]]:
    """The ``_target_`` nodes at and below ``node``, with their keys, not entering interpolations."""
    if isinstance(node, DictConfig) and isinstance(node.get("_target_"), str):
        yield key, node
    children = node.items_ex(resolve=False) if isinstance(node, DictConfig) else enumerate(node._iter_ex(resolve=False))
    for name, child in children:
        child_key = f"{key}.{name}" if isinstance(node, DictConfig) else f"{key}[{name}]"
        if isinstance(child, (DictConfig, ListConfig)) and not child._is_interpolation():
            yield from _target_nodes(child, child_key)


def _node_problems(key: str, node: dict) -> list[str]:
    parameters = _parameters(node["_target_"])
    if parameters is None:  # not importable here: building it reports that, by key
        return []
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    problems = []
    for name, value in node.items():
        if name.startswith("_"):
            continue
        if name not in parameters:
            if not takes_any:
                accepted = ", ".join(n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
                problems.append(f"{key}.{name} is not a parameter of {node['_target_']}: it takes {accepted}")
            continue
        annotation = _annotations(node["_target_"]).get(name)
        if annotation is not None and not _is_config_node(value) and not _matches(annotation, value):
            problems.append(f"{key}.{name}={value!r} is invalid: expected {_describe(annotation)}")
    return problems


def _is_config_node(value: Any) -> bool:
    """A nested ``_target_`` node (or a list holding some): checked on its own, and built into objects."""
    if isinstance(value, dict):
        return "_target_" in value or any(_is_config_node(v) for v in value.values())
    return isinstance(value, list) and any(_is_config_node(v) for v in value)


@functools.cache
def _callable(target: str) -> Callable | None:
    try:
        return get_object(target)
    except Exception:  # noqa: BLE001
        return None


@functools.cache
def _parameters(target: str) -> dict[str, inspect.Parameter] | None:
    obj = _callable(target)
    if obj is None or not callable(obj):
        return None
    try:
        return dict(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return None


@functools.cache
def _annotations(target: str) -> dict[str, Any]:
    """The parameters' annotations as types (string annotations evaluated; those that fail are left out)."""
    obj = _callable(target)
    function = obj.__init__ if inspect.isclass(obj) else obj
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - a forward reference that does not resolve: keep the plain types
        return {name: p.annotation for name, p in (_parameters(target) or {}).items()
                if p.annotation is not inspect.Parameter.empty and not isinstance(p.annotation, str)}


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter | None:
    try:
        return TypeAdapter(annotation, config=_ARBITRARY)
    except Exception:  # noqa: BLE001 - an annotation pydantic cannot check
        return None


def _matches(annotation: Any, value: Any) -> bool:
    adapter = _adapter(annotation)
    if adapter is None:
        return True
    for candidate in (value, tuple(value)) if isinstance(value, list) else (value,):  # YAML has no tuples
        try:
            adapter.validate_python(candidate, strict=True)
            return True
        except ValidationError:
            continue
        except Exception:  # noqa: BLE001 - a validator that cannot run on config values: not checked
            return True
    return False


def _describe(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
