"""Every ``python train.py ...`` and ``python evaluate.py ...`` command that README.md and docs/ show composes
as written (its keys exist, its group options exist, the typed checks pass where no file is involved): the
command-line contract that a change of config layout must keep."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from gan_experiments.config import ConfigError
from gan_experiments.config.signatures import signature_problems
from gan_experiments.config.task_schemas import task_overrides
from tests.helpers import CONF, ROOT, without_hydra_flags

# docs/adding-a-model.md's commands use a config dir of the reader's own: tests/test_add_a_model.py runs them
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "adding-a-model.md")]
COMMAND = re.compile(r"python (train|evaluate)\.py([^`|\n]*)")
PLACEHOLDER = re.compile(r"\.\.\.|\bPATH\b|\bDIR\b|\bRUN\b|INFOGAN_RUN|\bOUT\b|\brun\b")


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(file, script, overrides) of every documented command, comments and chained commands cut off."""
    found = {}
    for doc in DOCS:
        for script, rest in COMMAND.findall(doc.read_text()):
            command = re.sub(r"<[^>]*>", "run", rest.split("#")[0].split("&&")[0])  # a <placeholder> filled in
            words = shlex.split(command, posix=True)
            found.setdefault((script, tuple(words)), doc.relative_to(ROOT).as_posix())
    return [(where, script, list(words)) for (script, words), where in sorted(found.items())]


def one_job(overrides: list[str]) -> list[str]:
    """What the shell passes for a multirun's first job: -m dropped, each sweep (a,b,c) at its first value,
    ~ expanded (bash expands it after '=')."""
    overrides = [re.sub(r"=([^,\[\]]+),.*$", r"=\1", o) if "," in o and "[" not in o else o
                 for o in without_hydra_flags(overrides) if o not in ("-m", "--multirun")]
    return [o.replace("=~/", f"={Path.home()}/") for o in overrides]


COMMANDS = documented_commands()


def test_the_docs_show_the_commands_people_use():
    scripts = {script for _, script, _ in COMMANDS}
    assert scripts == {"train", "evaluate"} and len(COMMANDS) >= 40


@pytest.mark.parametrize(("where", "script", "overrides"), COMMANDS,
                         ids=[f"{s}.py {' '.join(o)}"[:90] for _, s, o in COMMANDS])
def test_a_documented_command_composes(where, script, overrides, tmp_path):
    overrides = one_job(overrides)
    if script == "evaluate":
        overrides = task_overrides(overrides)
        if "task=run" in overrides:
            pytest.skip("the generic task=<name> line")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name=script, overrides=[*overrides, f"hydra.run.dir={tmp_path}"])
    if not any(PLACEHOLDER.search(o) or "~" in o or "/" in o.split("=", 1)[-1] for o in overrides):
        assert signature_problems(cfg) == [], where


def test_a_renamed_key_is_not_documented():
    for _, _, overrides in COMMANDS:
        assert not any(o.lstrip("+~").startswith(("loss.optimizer_g", "loss.optimizer_d")) for o in overrides)


def test_an_undocumented_key_fails_to_compose(tmp_path):
    """The check above can fail: a key that does not exist is refused by Hydra at compose time."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"), pytest.raises(Exception, match="loss.optimizer_g"):
        compose(config_name="train", overrides=["loss.optimizer_g.lr=1e-3"])
    assert ConfigError  # the typed checks' error type, used by validate()
