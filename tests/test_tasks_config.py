"""evaluate.py's tasks as a Hydra config group (issue 18): every conf/task option composes to its typed schema
and builds its task function; wrong types fail while Hydra composes, missing required parameters and values
out of range before any checkpoint is read, each naming the key; the documented command lines (a task's
parameters by their own names) keep working; --help and --cfg job --package task list the tasks and a task's
parameters."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import operator
import re
import shlex
import subprocess
import sys
import types
import typing
from enum import Enum

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf

from gan_experiments.building import build
from gan_experiments.config import ConfigError
from gan_experiments.config.task_schemas import (
    Space,
    TaskSchema,
    check_task,
    schema_name,
    schemas,
    task_names,
    task_overrides,
    task_parameters,
)
from gan_experiments.pipeline import evaluate
from gan_experiments.tools import (
    augmentation,
    bias_audit,
    classifier,
    compare,
    edit,
    hype,
    interpolate,
    latent_traversal,
    metrics,
    noise,
    ppl,
    samples,
    style_mixing,
    translate,
    truncation,
    z_directions,
)
from tests.helpers import CONF, ROOT, compose_evaluate, without_hydra_flags

TASK_DIR = CONF / "task"
# what each task=NAME must build: the real functions, pinned here independently of conf/task
FUNCTIONS = {
    "metrics": metrics.checkpoint_metrics, "compare": compare.compare, "truncation": truncation.truncation_sweep,
    "samples": samples.write_samples, "train_classifier": classifier.train_classifier_task,
    "translate": translate.translate_folder, "interpolate": interpolate.interpolate,
    "style_mixing": style_mixing.style_mixing, "noise": noise.noise_variation, "edit": edit.edit,
    "bias_audit": bias_audit.bias_audit, "latent_traversal": latent_traversal.latent_traversal,
    "z_directions": z_directions.z_directions, "augmentation": augmentation.augmentation_study, "hype": hype.hype,
    "ppl": ppl.ppl_task,
}
# values for the required parameters, so that every task composes complete
REQUIRED = {"compare": ["real=mnist", "fake=fakes/"], "translate": ["input_dir=photos/"],
            "edit": ["attribute=Smiling"], "bias_audit": ["attribute=Smiling"]}
NO_CKPT = "/nonexistent/run/checkpoints/last.ckpt"


def composed(task: str, *overrides: str):
    return compose_evaluate([f"task={task}", f"ckpt={NO_CKPT}", "out_dir=out", *REQUIRED.get(task, []), *overrides])


def composition_error(err: ConfigCompositionException) -> str:
    """Hydra's message and its cause (where the key and the type are named)."""
    return f"{err}\n{err.__cause__}"


@pytest.fixture
def no_checkpoint_read(monkeypatch):
    """Fail the test if anything gets as far as reading a checkpoint."""
    from gan_experiments.tools import checkpoints

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint was read before the task's parameters were checked")
    monkeypatch.setattr(checkpoints, "load_module", refuse)
    monkeypatch.setattr(checkpoints, "read_checkpoint", refuse)


def run_evaluate(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "evaluate.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


# --- the group: one option per task, each typed, each building its function -----------------------------------

def test_the_task_group_holds_every_task_each_with_its_schema():
    assert task_names(TASK_DIR) == sorted(FUNCTIONS)
    assert [schema.name for schema in schemas()] == sorted(FUNCTIONS)


@pytest.mark.parametrize("task", sorted(FUNCTIONS))
def test_a_task_option_composes_to_its_schema_and_builds_its_function(task):
    cfg = composed(task)
    schema = OmegaConf.get_type(cfg.task)
    assert issubclass(schema, TaskSchema) and schema.name == task
    assert check_task(cfg.task) == task
    built = build(task_parameters(cfg.task), "task")
    assert built.func is FUNCTIONS[task]
    # the node's parameters are exactly the function's keywords: the call cannot miss or add one
    inspect.signature(FUNCTIONS[task]).bind(cfg, **built.keywords)
    keyword_only = {name for name, p in inspect.signature(FUNCTIONS[task]).parameters.items()
                    if p.kind is p.KEYWORD_ONLY}
    assert set(built.keywords) == keyword_only


def as_function_receives(schema_type):
    """The type a task function receives for a schema field: a choice's name, a nested node as a DictConfig."""
    if isinstance(schema_type, type) and issubclass(schema_type, Enum):
        return str
    if dataclasses.is_dataclass(schema_type):
        return DictConfig
    if typing.get_origin(schema_type) in (types.UnionType, typing.Union):
        return functools.reduce(operator.or_, map(as_function_receives, typing.get_args(schema_type)))
    return schema_type


@pytest.mark.parametrize("task", sorted(FUNCTIONS))
def test_a_schema_types_its_fields_as_the_task_function_annotates_its_keywords(task):
    schema = OmegaConf.get_type(composed(task).task)
    fields = {name: hint for name, hint in typing.get_type_hints(schema).items()
              if not name.startswith("_") and typing.get_origin(hint) is not typing.ClassVar}
    annotations = {name: hint for name, hint in typing.get_type_hints(FUNCTIONS[task]).items()
                   if name not in ("cfg", "return")}
    assert {name: as_function_receives(hint) for name, hint in fields.items()} == annotations


@pytest.mark.parametrize("task", sorted(FUNCTIONS))
def test_a_task_file_starts_from_its_schema_gives_every_field_and_is_not_global(task):
    path = TASK_DIR / f"{task}.yaml"
    text = path.read_text()
    assert "@package" not in text  # its package is the group's: task
    content = yaml.safe_load(text)
    assert content["defaults"] == [f"/{schema_name(task)}@_here_", "_self_"]
    schema = OmegaConf.get_type(composed(task).task)
    fields = {f for f in OmegaConf.structured(schema)}
    assert set(content) - {"defaults"} == fields  # every parameter has its default (or ???) in the file


def test_the_checkpoint_parameter_follows_the_shared_ckpt_and_is_required_where_used():
    needs = {t for t in FUNCTIONS if "ckpt" in inspect.signature(FUNCTIONS[t]).parameters}
    assert needs == set(FUNCTIONS) - {"compare", "train_classifier"}
    for task in needs:
        assert composed(task).task.ckpt == NO_CKPT, task
    with pytest.raises(ConfigError, match=r"^task=samples needs a checkpoint: pass ckpt="):
        check_task(compose_evaluate(["task=samples", "out_dir=out"]).task)
    check_task(compose_evaluate(["task=hype", "out_dir=out", "hype.results=r.json"]).task)  # scoring needs none


# --- failures: at composition (types), or before any checkpoint is read (required, ranges) -----------------

@pytest.mark.parametrize(("task", "override", "key"), [
    ("samples", "num_images=abc", "task.num_images"),
    ("samples", "psi=high", "task.psi"),
    ("interpolate", "space=q", "task.space"),
    ("interpolate", "method=cubic", "task.method"),
    ("translate", "direction=c2d", "task.direction"),
    ("translate", "test_mode=train", "task.test_mode"),
    ("translate", "overwrite=maybe", "task.overwrite"),
    ("edit", "edit_steps=1.5", "task.edit_steps"),
    ("truncation", "psis=[a,b]", "task.psis"),
    ("augmentation", "augment.seeds=[x]", "task.augment.seeds"),
    ("hype", "hype.serve=perhaps", "task.hype.serve"),
    ("samples", "num_images=null", "task.num_images"),
])
def test_a_wrong_type_fails_when_hydra_composes_naming_the_key(task, override, key):
    with pytest.raises(ConfigCompositionException) as refused:
        composed(task, override)
    assert f"full_key: {key}" in composition_error(refused.value)


@pytest.mark.parametrize(("task", "override"), [("samples", "attribute=Smiling"), ("metrics", "steps=3"),
                                                ("edit", "draws=2"), ("augmentation", "augment.epochs=3")])
def test_a_parameter_the_task_does_not_have_fails_when_hydra_composes(task, override):
    with pytest.raises(ConfigCompositionException) as refused:
        composed(task, override)
    key = override.split("=")[0]
    message = composition_error(refused.value)
    assert f"Could not override 'task.{key}'" in message and f"full_key: task.{key}" in message


@pytest.mark.parametrize(("task", "overrides", "key"), [
    ("edit", [], "attribute"),
    ("bias_audit", [], "attribute"),
    ("translate", [], "input_dir"),
    ("compare", ["fake=fakes/"], "real"),
    ("compare", ["real=mnist"], "fake"),
])
def test_a_missing_required_parameter_is_named_before_any_checkpoint_is_read(task, overrides, key,
                                                                           no_checkpoint_read):
    cfg = compose_evaluate([f"task={task}", f"ckpt={NO_CKPT}", "out_dir=out", *overrides])
    with pytest.raises(ConfigError) as refused:
        evaluate(cfg)
    message = str(refused.value)
    assert message.startswith(f"task={task} needs {key} (task.{key}): pass {key}=")
    assert "does not exist" not in message and NO_CKPT not in message


@pytest.mark.parametrize(("task", "override", "message"), [
    ("samples", "num_images=0", r"task\.num_images=0 is invalid: expected an integer >= 1"),
    ("samples", "psi=0", r"task\.psi=0.0 is invalid: expected a number > 0"),
    ("interpolate", "steps=1", r"task\.steps=1 is invalid: expected an integer >= 2"),
    ("noise", "draws=1", r"task\.draws=1 is invalid: expected an integer >= 2"),
    ("edit", "edit_steps=0", r"task\.edit_steps=0 is invalid: expected an integer >= 1"),
    ("translate", "batch_size=0", r"task\.batch_size=0 is invalid: expected an integer >= 1"),
    ("latent_traversal", "purity_samples=0", r"task\.purity_samples=0 is invalid"),
    ("metrics", "memorization_train_images=0", r"task\.memorization_train_images=0 is invalid"),
    ("truncation", "psis=[]", r"task\.psis=\[\] is invalid: expected a non-empty list"),
    ("augmentation", "augment.seeds=[]", r"task\.augment\.seeds=\[\] is invalid: expected a non-empty list"),
    ("augmentation", "augment.fake_per_class=-1", r"task\.augment\.fake_per_class=-1 is invalid: expected an integer >= 0"),
    ("augmentation", "augment.curve=[0,-5]", r"task\.augment\.curve=\[0, -5\] is invalid"),
    ("hype", "hype.num_fake=0", r"task\.hype\.num_fake=0 is invalid: expected an integer >= 1"),
])
def test_a_value_out_of_range_is_named_before_any_checkpoint_is_read(task, override, message, no_checkpoint_read):
    with pytest.raises(ConfigError, match=message):
        evaluate(composed(task, override))


def test_every_problem_of_a_task_is_listed_at_once():
    with pytest.raises(ConfigError) as refused:
        check_task(compose_evaluate(["task=compare", "out_dir=out"]).task)
    assert "task.real" in str(refused.value) and "task.fake" in str(refused.value)


def test_evaluate_py_stops_before_the_checkpoint_naming_the_parameter(tmp_path):
    """The same through the entry point: a wrong type (Hydra's message) and a missing attribute (one error
    line, exit status 2), with a checkpoint path that does not exist: the error is about the parameter."""
    wrong = run_evaluate("task=samples", f"ckpt={NO_CKPT}", "num_images=abc", f"hydra.run.dir={tmp_path}/a")
    assert wrong.returncode != 0 and "full_key: task.num_images" in wrong.stderr, wrong.stderr
    assert "does not exist" not in wrong.stderr and "Traceback" not in wrong.stderr
    missing = run_evaluate("task=edit", f"ckpt={NO_CKPT}", f"hydra.run.dir={tmp_path}/b")
    errors = [line for line in missing.stderr.splitlines() if line.startswith("error:")]
    assert missing.returncode == 2 and len(errors) == 1, missing.stderr
    assert errors[0].startswith("error: task=edit needs attribute (task.attribute): pass attribute=")
    assert "does not exist" not in missing.stderr


# --- the command line: a task's parameters by their own names ------------------------------------------------

@pytest.mark.parametrize(("given", "moved"), [
    (["num_images=16"], ["task.num_images=16"]),
    (["attribute=Smiling", "ckpt=a.ckpt", "out=r.json"], ["task.attribute=Smiling", "ckpt=a.ckpt", "out=r.json"]),
    (["hype.serve=true", "augment.real_per_class=5"], ["task.hype.serve=true", "task.augment.real_per_class=5"]),
    (["+psi=0.5", "++steps=3", "~psi"], ["+task.psi=0.5", "++task.steps=3", "~task.psi"]),
    (["-m", "num_images=8,16"], ["-m", "task.num_images=8,16"]),
    (["task=edit", "task.num_images=3", "metrics.batch_size=8", "data=mnist", "seed=1", "hydra.run.dir=x"],
     ["task=edit", "task.num_images=3", "metrics.batch_size=8", "data=mnist", "seed=1", "hydra.run.dir=x"]),
    (["--cfg", "job", "--package", "task", "--help"], ["--cfg", "job", "--package", "task", "--help"]),
    (["fake=a=b"], ["task.fake=a=b"]),
])
def test_task_parameters_by_their_own_names_move_into_the_task_node(given, moved):
    assert task_overrides(given) == moved


def test_the_old_top_level_keys_compose_into_the_task_node():
    cfg = compose_evaluate(["task=interpolate", "ckpt=x.ckpt", "space=w", "steps=5", "method=linear", "out_dir=o"])
    assert (cfg.task.space, cfg.task.steps, cfg.task.method.value) == (Space.w, 5, "linear")
    assert task_parameters(cfg.task).space == "w"  # the function gets the choice's name
    cfg = compose_evaluate(["task=hype", "ckpt=x.ckpt", "hype.serve=true", "hype.port=0", "out_dir=o"])
    assert cfg.task.hype.serve is True and cfg.task.hype.port == 0
    cfg = compose_evaluate(["task=augmentation", "ckpt=x.ckpt", "augment.real_per_class=5", "augment.seeds=[3]",
                            "out_dir=o"])
    assert cfg.task.augment.real_per_class == 5 and list(cfg.task.augment.seeds) == [3]
    cfg = compose_evaluate(["task=translate", "ckpt=x.ckpt", "input_dir=in", "test_mode=eval", "direction=b2a",
                            "out_dir=o"])
    assert (cfg.task.test_mode.value, cfg.task.direction.value, cfg.task.input_dir) == ("eval", "b2a", "in")


def documented_commands() -> list[str]:
    """Every `python evaluate.py ...` command line of README.md and docs/*.md (placeholders filled in)."""
    commands = []
    # docs/adding-a-model.md's commands use a config dir of the reader's own: tests/test_add_a_model.py runs them
    pages = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "adding-a-model.md")]
    for page in pages:
        for found in re.findall(r"python evaluate\.py ([^#`\n&]*)", page.read_text()):
            if "<name>" in found:  # the generic form, not a command
                continue
            commands.append(re.sub(r"<[^>]*>", "RUN", found).replace("=...", "=PLACEHOLDER").strip())
    return commands


def test_the_documentation_shows_evaluate_commands():
    assert len(documented_commands()) >= 10


@pytest.mark.parametrize("command", documented_commands())
def test_every_documented_evaluate_command_composes_and_passes_the_task_checks(command):
    words = shlex.split(command)
    args = [arg for arg in without_hydra_flags(words) if arg != "..."]
    cfg = compose_evaluate([*args, "out_dir=out"])
    if args == words:  # a run, not a discovery command (--help, --cfg job): its task must be complete
        check_task(cfg.task)


# --- discovery ----------------------------------------------------------------------------------------------

def test_help_lists_the_tasks_and_a_task_help_its_parameters(tmp_path):
    listing = run_evaluate("task=edit", "--help")
    assert listing.returncode == 0, listing.stderr
    groups = next(line for line in listing.stdout.splitlines() if line.startswith("task: "))
    assert groups == "task: " + ", ".join(sorted(FUNCTIONS))
    assert "_task_schema" not in listing.stdout  # the schemas are not options to choose
    assert "  attribute: ???" in listing.stdout and "--cfg job --package task" in listing.stdout
    only = run_evaluate("task=interpolate", "steps=5", "--cfg", "job", "--package", "task")
    assert only.returncode == 0, only.stderr
    shown = yaml.safe_load(only.stdout)
    assert shown["steps"] == 5 and shown["space"] == "z" and shown["_target_"].endswith("interpolate.interpolate")
    assert "metrics" not in shown and "seed" not in shown  # only the task's own parameters


def test_an_unknown_task_is_one_error_naming_every_task(tmp_path):
    result = run_evaluate("task=sampels", f"hydra.run.dir={tmp_path}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "task='sampels' is not a task" in errors[0]
    assert all(task in errors[0] for task in FUNCTIONS)


# --- evaluate() builds whatever the node names ---------------------------------------------------------------

def test_evaluate_builds_the_task_from_its_node_and_calls_it_on_the_config():
    """No table of tasks: whatever callable the node's _target_ names runs, with the node's parameters as
    keywords and the whole config first; an untyped node still has its ??? parameters named."""
    cfg = compose_evaluate(["out_dir=out", "seed=7"])
    OmegaConf.set_struct(cfg, False)
    cfg.task = {"_target_": "builtins.dict", "_partial_": True, "steps": 3}  # dict(cfg, steps=3)
    result = evaluate(cfg)
    assert result["steps"] == 3 and result["seed"] == 7 and result["out_dir"] == "out"
    cfg.task = {"_target_": "builtins.dict", "_partial_": True, "steps": "???"}
    with pytest.raises(ConfigError, match=r"needs steps: pass task\.steps="):
        evaluate(cfg)


def test_a_task_that_is_not_a_node_is_refused():
    cfg = compose_evaluate(["out_dir=out"])
    OmegaConf.set_struct(cfg, False)
    cfg.task = "samples"
    with pytest.raises(ConfigError, match=r"task='samples' is not a task config"):
        evaluate(cfg)


def test_the_task_table_is_gone():
    from gan_experiments import pipeline

    assert not hasattr(pipeline, "_tasks")
