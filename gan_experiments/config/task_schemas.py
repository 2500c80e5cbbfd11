"""The typed schemas of ``evaluate.py``'s tasks, and the checks Hydra's types do not make.

Each task is an option of the Hydra config group ``task`` (``conf/task/<name>.yaml``): its ``_target_`` is the
task function (built with ``_partial_: true``, called as ``task(cfg)`` on the whole evaluate config), and its
parameters, defaults and ``???`` (required) are in that file. Its defaults list starts with the task's schema,
a dataclass below registered in Hydra's ConfigStore as ``<name>_task_schema``, so a value of the wrong type
(``num_images=abc``), an unknown choice (``space=q``) or a parameter the task does not have fails when Hydra
composes the config, naming the key (``task.num_images``). What types cannot say, ``check_task`` says before
any checkpoint, dataset or classifier is read: a required parameter left at ``???`` (or, for ``ckpt``,
null), and the range of each field (the ``check`` in its metadata).

On the command line a task's parameters keep their names: ``task_overrides`` turns ``num_images=16`` into
``task.num_images=16`` (and ``augment.steps=...`` into ``task.augment.steps=...``), as ``evaluate.py`` and
``tests.helpers.compose_evaluate`` do before Hydra composes.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue, ValidationError

from gan_experiments.errors import ConfigError

# the evaluate config's own top-level keys: shared by every task, never moved into the task node
SHARED_KEYS = ("task", "task_name", "ckpt", "out", "out_dir", "seed", "allow_targets", "data", "metrics", "paths",
               "hydra")


# --- choices ------------------------------------------------------------------------------------------------

class Space(Enum):
    """A generator's latent space: z (any generator) or w (StyleGAN's mapped latents)."""

    z = "z"
    w = "w"


class Method(Enum):
    """Interpolation: spherical (suits Gaussian z) or linear (suits w)."""

    slerp = "slerp"
    linear = "linear"


class Sampling(Enum):
    """Where on the path the perceptual path length looks: t ~ U[0, 1) (full) or t = 0 (end points)."""

    full = "full"
    end = "end"


class Direction(Enum):
    a2b = "a2b"
    b2a = "b2a"


class TestMode(Enum):
    """pix2pix at test time: paper (dropout on, each image's own batch statistics) or eval (running ones)."""

    __test__ = False  # not a pytest test class
    paper = "paper"
    eval = "eval"


# --- range checks, in each field's metadata -----------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    test: Callable[[Any], bool]
    accepts: str


def checked(test: Callable[[Any], bool], accepts: str) -> Any:
    """A schema field (no default: the task's yaml gives it) whose value ``check_task`` tests; null passes."""
    return field(metadata={"check": Check(test, accepts)})


def at_least(minimum: int, what: str = "") -> Any:
    return checked(lambda v: v >= minimum, f"an integer >= {minimum}{what}")


def positive(what: str = "") -> Any:
    return checked(lambda v: v > 0, f"a number > 0{what}")


def required(example: str) -> Any:
    """A parameter the task's yaml leaves at ``???``: ``example`` says what to pass, in the message."""
    return field(metadata={"example": example})


# --- the schemas --------------------------------------------------------------------------------------------

@dataclass
class TaskSchema:
    """Every task: the function (``_target_``, built as a partial) and, in subclasses, its parameters."""

    name: ClassVar[str]
    _target_: str
    _partial_: bool


@dataclass
class MetricsTask(TaskSchema):
    name: ClassVar[str] = "metrics"
    ckpt: str
    memorization_train_images: int | None = at_least(1, ", or null for the whole training set")


@dataclass
class CompareTask(TaskSchema):
    name: ClassVar[str] = "compare"
    real: str = required("real=DIR (a folder of images) or real=mnist / fashion_mnist / cifar10")
    fake: str = required("fake=DIR (a folder of images)")


@dataclass
class TruncationTask(TaskSchema):
    name: ClassVar[str] = "truncation"
    ckpt: str
    psis: list[float] = checked(lambda v: len(v) >= 1, "a non-empty list of numbers, e.g. [0.5,1.0]")
    num_images: int = at_least(1)
    truncation_layers: int | None = at_least(1, ", or null for all style layers")


@dataclass
class SamplesTask(TaskSchema):
    name: ClassVar[str] = "samples"
    ckpt: str
    num_images: int = at_least(1)
    psi: float | None = positive(", or null for no truncation")


@dataclass
class TrainClassifierTask(TaskSchema):
    name: ClassVar[str] = "train_classifier"


@dataclass
class TranslateTask(TaskSchema):
    name: ClassVar[str] = "translate"
    ckpt: str
    input_dir: str = required("input_dir=DIR (a folder of images, searched recursively)")
    direction: Direction
    image_size: int | None = at_least(1, ", or null for the checkpoint's training resolution")
    batch_size: int = at_least(1)
    overwrite: bool
    test_mode: TestMode | None


@dataclass
class InterpolateTask(TaskSchema):
    name: ClassVar[str] = "interpolate"
    ckpt: str
    space: Space
    method: Method
    steps: int = at_least(2, " (images along each interpolation, ends included)")
    num_images: int = at_least(1)


@dataclass
class StyleMixingTask(TaskSchema):
    name: ClassVar[str] = "style_mixing"
    ckpt: str
    num_images: int = at_least(1)


@dataclass
class NoiseTask(TaskSchema):
    name: ClassVar[str] = "noise"
    ckpt: str
    num_images: int = at_least(1)
    draws: int = at_least(2, " (noise draws per latent: the standard deviation needs 2)")


@dataclass
class PPLTask(TaskSchema):
    name: ClassVar[str] = "ppl"
    ckpt: str
    space: Space
    sampling: Sampling
    num_samples: int = at_least(1)
    epsilon: float = positive()
    crop: bool
    batch_size: int = at_least(1)
    device: str | None


@dataclass
class BiasAuditTask(TaskSchema):
    name: ClassVar[str] = "bias_audit"
    ckpt: str
    attribute: str = required("attribute=NAME (a CelebA attribute, e.g. Smiling) or attribute=K (a class index: MNIST, digits)")
    num_images: int = at_least(1)
    edit_steps: int = at_least(1)
    step_size: float = positive()
    edit_space: Space | None


@dataclass
class EditTask(BiasAuditTask):
    name: ClassVar[str] = "edit"
    directions: str | None


@dataclass
class LatentTraversalTask(TaskSchema):
    name: ClassVar[str] = "latent_traversal"
    ckpt: str
    num_images: int = at_least(1)
    steps: int = at_least(2, " (values of each continuous code)")
    purity_samples: int = at_least(1)


@dataclass
class ZDirectionsTask(TaskSchema):
    name: ClassVar[str] = "z_directions"
    ckpt: str
    num_images: int = at_least(1)
    edit_space: Space | None


@dataclass
class AugmentOptions:
    real_per_class: int = at_least(1)
    fake_per_class: int = at_least(0)
    curve: list[int] = checked(lambda v: all(n >= 0 for n in v), "a list of integers >= 0")
    seeds: list[int] = checked(lambda v: len(v) >= 1, "a non-empty list of integer seeds")
    steps: int = at_least(1)
    batch_size: int = at_least(1)
    truncation: float | None = positive(", or null for no truncation")


@dataclass
class AugmentationTask(TaskSchema):
    name: ClassVar[str] = "augmentation"
    ckpt: str
    augment: AugmentOptions


@dataclass
class HypeOptions:
    num_real: int = at_least(1)
    num_fake: int = at_least(1)
    bootstrap: int = at_least(1)
    serve: bool
    port: int  # 0..65535 is checked where the server binds, before any work
    results: str | None


@dataclass
class HypeTask(TaskSchema):
    name: ClassVar[str] = "hype"
    ckpt: str | None  # a page needs one; scoring hype.results does not
    hype: HypeOptions


def schemas() -> list[type[TaskSchema]]:
    """Every task schema of this module (the classes that name a task)."""
    found, todo = [], [TaskSchema]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "name" in vars(cls):
            found.append(cls)
    return sorted(found, key=lambda cls: cls.name)


def schema_name(task: str) -> str:
    """The ConfigStore name of a task's schema, as ``conf/task/<task>.yaml`` names it in its defaults list."""
    return f"{task}_task_schema"


def register() -> None:
    """Store every schema in Hydra's ConfigStore (at its root, so ``--help`` lists only the task group)."""
    store = ConfigStore.instance()
    for schema in schemas():
        store.store(name=schema_name(schema.name), node=schema)


register()


# --- the checks Hydra's types do not make -------------------------------------------------------------------

def _fields(schema: type) -> Iterable[tuple[str, dataclasses.Field]]:
    """(dotted key, field) of the schema's parameters, nested options included."""
    types = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        if f.name.startswith("_"):
            continue
        if dataclasses.is_dataclass(types[f.name]):
            yield from ((f"{f.name}.{key}", sub) for key, sub in _fields(types[f.name]))
        else:
            yield f.name, f


def _missing_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """The keys under ``node`` left at ``???``, relative to it, without resolving anything (a task of one's own
    holds ``ckpt: ${ckpt}`` like the built-in ones, an interpolation into the evaluate config)."""
    found = []
    for key in node:
        if OmegaConf.is_missing(node, key):
            found.append(f"{prefix}{key}")
            continue
        child = node._get_node(key)
        if OmegaConf.is_dict(child) and not child._is_interpolation():
            found += _missing_keys(child, f"{prefix}{key}.")
    return sorted(found)


def check_task(node: Any) -> str:
    """The task's name, after checking its node (``cfg.task``): a ``ConfigError`` listing every required
    parameter left unset and every value out of its range, naming each key. Reads nothing else."""
    if not OmegaConf.is_dict(node) or "_target_" not in node:
        raise ConfigError(f"task={node!r} is not a task config: choose task=NAME, one of conf/task/*.yaml")
    schema = OmegaConf.get_type(node)
    if not (isinstance(schema, type) and issubclass(schema, TaskSchema)):  # a task of one's own, untyped
        missing = _missing_keys(node)
        if missing:
            raise ConfigError(f"task {node._target_} needs {', '.join(missing)}: pass task.{missing[0]}=VALUE")
        return str(node._target_)
    task, problems = schema.name, []
    for key, f in _fields(schema):
        try:
            value = OmegaConf.select(node, key, throw_on_missing=True)
        except (MissingMandatoryValue, InterpolationResolutionError, ValidationError) as err:
            if key == "ckpt":  # ckpt: ${ckpt} in the task's yaml, and the top-level ckpt is null
                problems.append(f"task={task} needs a checkpoint: pass ckpt=<run>/checkpoints/last.ckpt")
            elif isinstance(err, MissingMandatoryValue):
                example = f.metadata.get("example", f"{key}=VALUE")
                problems.append(f"task={task} needs {key} (task.{key}): pass {example}")
            else:
                problems.append(f"task.{key}: {str(err).splitlines()[0]}")
            continue
        check = f.metadata.get("check")
        if check is not None and value is not None and not check.test(value):
            shown = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
            problems.append(f"task.{key}={shown!r} is invalid: expected {check.accepts}")
    if problems:
        raise ConfigError("invalid task parameters:\n  " + "\n  ".join(problems) if len(problems) > 1 else problems[0])
    return task


# --- the command line: a task's parameters by their own names -----------------------------------------------

def parameter_names() -> set[str]:
    """Every parameter of some task (the first part of its key: ``augment``, not ``augment.steps``)."""
    return {f.name for schema in schemas() for f in dataclasses.fields(schema)
            if not f.name.startswith("_")} - set(SHARED_KEYS)


def task_names(task_dir: Path) -> list[str]:
    """The tasks: the options of the ``task`` config group."""
    return sorted(path.stem for path in Path(task_dir).glob("*.yaml"))


_OVERRIDE = re.compile(r"^(?P<prefix>~|\+\+|\+)?(?P<key>[A-Za-z_][\w.]*)(?P<rest>=.*|)$", re.DOTALL)


def task_overrides(overrides: Sequence[str], task_dir: Path | None = None) -> list[str]:
    """Hydra overrides with a task's parameters moved into the task node: ``num_images=16`` ->
    ``task.num_images=16``, ``+psi=1`` -> ``+task.psi=1``, ``~psi`` -> ``~task.psi``, ``hype.serve=true`` ->
    ``task.hype.serve=true``; everything else (flags, shared keys, ``task.*``) as it is. With ``task_dir``,
    ``task=NAME`` must name one of its options or of the ``task`` folders of the config directories that a
    ``hydra.searchpath=[file://DIR,...]`` override adds (a ``ConfigError`` listing them, before Hydra runs)."""
    names, out = parameter_names(), []
    task_dirs = None if task_dir is None else searched_task_dirs(overrides, task_dir)
    for arg in overrides:
        match = _OVERRIDE.match(arg) if not arg.startswith("-") else None
        if match is None or (not match["rest"] and match["prefix"] != "~"):
            out.append(arg)
            continue
        key = match["key"]
        if key == "task" and task_dirs is not None:
            check_task_choice(match["rest"][1:], task_dirs)
        if key.split(".")[0] in names:
            arg = f"{match['prefix'] or ''}task.{key}{match['rest']}"
        out.append(arg)
    return out


def searched_task_dirs(overrides: Sequence[str], task_dir: Path) -> list[Path] | None:
    """``task_dir`` and ``DIR/task`` of every ``file://DIR`` in a ``hydra.searchpath=[...]`` override (tasks of
    one's own, docs/adding-a-model.md); None when the search path holds an entry whose folders cannot be
    listed here (``pkg://...``) or does not parse: the choice is then left to Hydra to check."""
    dirs = [Path(task_dir)]
    for arg in overrides:
        if not re.match(r"^(\+\+|\+)?hydra\.searchpath=", arg):
            continue
        from hydra.core.override_parser.overrides_parser import OverridesParser

        try:
            value = OverridesParser.create().parse_overrides([arg])[0].value()
        except Exception:  # noqa: BLE001 - Hydra reports a malformed override itself
            return None
        for entry in value if isinstance(value, list) else [value]:
            if not isinstance(entry, str) or not entry.startswith("file://"):
                return None
            dirs.append(Path(entry[len("file://"):]) / "task")
    return dirs


def check_task_choice(choice: str, task_dir: Path | Sequence[Path]) -> None:
    """``task=NAME`` must be an option of the task group: a ``NAME.yaml`` in ``task_dir`` (or in one of several
    folders); sweeps such as ``task=a,b`` are left to Hydra."""
    folders = [task_dir] if isinstance(task_dir, (str, Path)) else task_dir
    tasks = sorted({name for folder in folders for name in task_names(folder)})
    if re.fullmatch(r"\w+", choice) and choice not in tasks:
        raise ConfigError(f"task={choice!r} is not a task; choose one of {', '.join(tasks)} "
                          "(python evaluate.py --help lists them, python evaluate.py task=NAME --help its parameters)")


def task_parameters(node: DictConfig) -> DictConfig:
    """The task node as plain values (interpolations resolved, choices as their names): what the task
    function is built from."""
    return OmegaConf.create(OmegaConf.to_container(node, resolve=True, enum_to_str=True))
