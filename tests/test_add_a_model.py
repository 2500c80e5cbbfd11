"""docs/adding-a-model.md, executed: a model, a dataset, a metric and a task added from a folder of one's own
(a Python package on PYTHONPATH and config groups found through ``hydra.searchpath``), with no edit to the
project.

Every file of the user's project is a code block of the page (```` ```python title="my_gans/..." ````), and
every command the page marks ``<!-- test: NAME -->`` runs here as written (bash, ``$MY`` = the temporary
project, ``python`` = this interpreter), so the page cannot rot. What the runs produced is then checked
against figures computed here independently of the user's code: the generated pixels' statistics moved
towards the data's, the weights changed, the run folder and the evaluate outputs are there, an untrusted
checkpoint is refused naming ``allow_targets``, and a typo is reported with the key.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import ROOT, compose_evaluate, compose_train

DOC = ROOT / "docs" / "adding-a-model.md"
FILE_BLOCK = re.compile(r'^```\w+ title="(?P<path>[^"]+)"\n(?P<body>.*?)^```$', re.MULTILINE | re.DOTALL)
COMMAND_BLOCK = re.compile(r"^<!-- test: (?P<name>\w+) -->\n```bash\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
USER_FILES = {"my_gans/__init__.py", "my_gans/feature_matching.py", "my_gans/data.py", "my_gans/metrics.py",
              "my_gans/tasks.py", "conf/model/fm_gan.yaml", "conf/data/bars.yaml", "conf/metrics/moments.yaml",
              "conf/task/moments.yaml"}


def doc_files() -> dict[str, str]:
    return {m["path"]: m["body"] for m in FILE_BLOCK.finditer(DOC.read_text())}


def doc_commands() -> dict[str, str]:
    return {m["name"]: m["body"] for m in COMMAND_BLOCK.finditer(DOC.read_text())}


def start_doc_command(name: str, project: Path) -> subprocess.Popen:
    """The page's command ``name``, started by bash from the repository root as a reader would run it (one
    CPU thread: the runs of this module go side by side on shared cores)."""
    env = os.environ | {"MY": str(project), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                        "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONPATH", None)  # the page's own `export PYTHONPATH=$MY` must be what makes my_gans importable
    commands = doc_commands()
    assert commands["train"].startswith("export PYTHONPATH=$MY")  # the first command of the reader's shell
    script = "set -e\n" + ("" if name == "train" else "export PYTHONPATH=$MY\n") + commands[name]
    return subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """~/my_project of the page: every file block written under a temporary folder."""
    root = tmp_path_factory.mktemp("my_project")
    files = doc_files()
    assert set(files) == USER_FILES, f"the page's files changed: {sorted(files)}"
    for path, body in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(body)
    return root


@pytest.fixture(scope="module")
def cli(project) -> dict[str, str]:
    """The stdout of each of the page's commands: the two trainings side by side (train: model=fm_gan on
    data=digits with metrics=moments; bars: data=bars), then the two evaluations of the first one's
    checkpoint (samples, task)."""
    stdout = {}
    for phase in (("train", "bars"), ("samples", "task")):
        started = {name: start_doc_command(name, project) for name in phase}
        for name, process in started.items():
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, f"the page's `{name}` command failed:\n{out[-3000:]}\n{err[-3000:]}"
            stdout[name] = out
    return stdout


@pytest.fixture(scope="module")
def trained(project, cli) -> Path:
    """The run folder of the page's `train` command."""
    return project / "runs" / "fm_gan"


@pytest.fixture
def importable(project, monkeypatch):
    """my_gans importable in this process too (the in-process checks below), and gone again afterwards."""
    monkeypatch.syspath_prepend(str(project))
    yield project
    for name in [m for m in sys.modules if m == "my_gans" or m.startswith("my_gans.")]:
        del sys.modules[name]


def grid_cells(path: Path, size: int = 16, padding: int = 2) -> np.ndarray:
    """The images of a torchvision grid PNG (``padding`` px between and around), [N, size, size] in [-1, 1]."""
    grid = np.asarray(Image.open(path).convert("L"), dtype=np.float64) / 127.5 - 1
    step = size + padding
    rows, cols = (grid.shape[0] - padding) // step, (grid.shape[1] - padding) // step
    return np.stack([grid[padding + r * step: padding + r * step + size, padding + c * step: padding + c * step + size]
                     for r in range(rows) for c in range(cols)])


def digits_16px() -> np.ndarray:
    """The real data as the test sees it, not through the user's code: scikit-learn's digits at 16 px in [-1, 1]."""
    from sklearn.datasets import load_digits
    from torchvision.transforms.v2 import functional as TF

    images = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0
    return (TF.resize(images, [16, 16], antialias=True).clamp(0, 1) * 2 - 1)[:, 0].numpy()


def moment_gap(fake: np.ndarray, real: np.ndarray) -> float:
    return abs(fake.mean() - real.mean()) + abs(fake.std() - real.std())


def test_the_page_is_a_project_of_its_own():
    """Nothing of the page's project lives in the repository: no file to copy into conf/ or the package."""
    files = doc_files()
    assert set(files) == USER_FILES
    for path in files:  # conf/model/fm_gan.yaml would be the place to drop the file in; it is not there
        assert not (ROOT / path).exists(), path
    assert set(doc_commands()) == {"train", "samples", "bars", "task"}


def test_a_new_model_trains_from_the_command_line(trained):
    """model=fm_gan (my_gans.feature_matching.FeatureMatchingGAN) with metrics=moments: the run folder is a
    full one, and G learned: its samples' pixel statistics moved towards the digits' (measured here from
    the PNG grids and scikit-learn's digits), and both optimizers stepped on their own network."""
    assert (trained / "checkpoints" / "last.ckpt").is_file()
    assert (trained / "checkpoints" / "best.ckpt").is_file()  # the metric's declared headline metric
    samples = sorted((trained / "samples").glob("epoch_*.png"))
    assert [p.name for p in samples] == ["epoch_000.png", "epoch_001.png", "epoch_002.png"]
    real = digits_16px()
    before, after = grid_cells(samples[0]), grid_cells(samples[-1])
    assert before.shape == after.shape == (64, 16, 16)
    gap_before, gap_after = moment_gap(before, real), moment_gap(after, real)
    assert gap_after < 0.5 * gap_before, (gap_before, gap_after)

    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["val/moment_gap_num_samples"] == 256  # ReportsMetricsInfo, merged into metrics.json
    assert metrics["best/val/moment_gap"] <= metrics["val/moment_gap"] + 1e-9
    assert {"train/d_loss", "train/g_loss", "train/feature_matching", "train/g_adversarial"} <= set(metrics)

    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    config = ckpt["config"]
    assert config["model"]["_target_"] == "my_gans.feature_matching.FeatureMatchingGAN"
    assert config["model"]["optimizer_g"]["_target_"] == "torch.optim.Adam"  # from the optimizer group
    assert config["model"]["loss"]["_target_"] == "gan_experiments.losses.GANLoss"  # from the loss group
    assert ckpt["global_step"] == 2 * 2 * 50  # two optimizer steps per batch, 2 epochs of 50 batches
    saved_config = (trained / ".hydra" / "config.yaml").read_text()
    assert "my_gans.feature_matching.FeatureDiscriminator" in saved_config
    state = ckpt["state_dict"]
    assert {k.split(".")[0] for k in state} == {"generator", "discriminator"}
    assert state["discriminator.head.weight"].shape == (1, 128)
    assert len(ckpt["optimizer_states"]) == 2 and all(s["state"] for s in ckpt["optimizer_states"])


def test_evaluating_the_new_model_needs_allow_targets(trained, cli, importable, tmp_path):
    """evaluate.py task=samples with allow_targets=[my_gans] (the page's command) writes the images, whose
    statistics are close to the data's; without allow_targets the checkpoint is refused, naming it."""
    images = sorted((trained / "eval" / "images").glob("*.png"))
    assert len(images) == 64 and (trained / "eval" / "grid.png").is_file()
    fake = np.stack([np.asarray(Image.open(p).convert("L"), dtype=np.float64) / 127.5 - 1 for p in images])
    assert fake.shape == (64, 16, 16)
    real = digits_16px()
    untrained = moment_gap(grid_cells(trained / "samples" / "epoch_000.png"), real)
    assert moment_gap(fake, real) < 0.6 * untrained, (moment_gap(fake, real), untrained)
    # the user's metric agrees with this independent figure (its real images: the validation split only)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert abs(metrics["val/moment_gap"] - moment_gap(fake, real)) < 0.05, metrics["val/moment_gap"]
    assert "'num_images': 64" in cli["samples"]

    from gan_experiments.config import ConfigError
    from gan_experiments.pipeline import evaluate

    ckpt = trained / "checkpoints" / "last.ckpt"
    refused = compose_evaluate(["task=samples", f"ckpt={ckpt}", "num_images=4", f"out_dir={tmp_path / 'no'}"])
    with pytest.raises(ConfigError, match=r"my_gans\.feature_matching\.FeatureMatchingGAN' is outside") as err:
        evaluate(refused)
    assert "allow_targets=[<module name>]" in str(err.value)
    assert not (tmp_path / "no").exists()


def test_a_new_task_from_the_search_path(trained):
    """task=moments (conf/task/moments.yaml -> my_gans.tasks.moments) through the real evaluate.py CLI."""
    result = json.loads((trained / "moments.json").read_text())
    assert result["num_samples"] == 256
    real = digits_16px()
    assert abs(result["mean"] - real.mean()) < 0.2 and abs(result["std"] - real.std()) < 0.2, result

    from gan_experiments.config import ConfigError
    from gan_experiments.pipeline import evaluate

    # a required parameter (???) of a task of one's own is named before the function runs
    unset = compose_evaluate([f"hydra.searchpath=[file://{trained.parent.parent / 'conf'}]", "task=moments",
                              f"ckpt={trained / 'checkpoints' / 'last.ckpt'}", "task.num_samples=???", "out_dir=."])
    with pytest.raises(ConfigError, match=r"task my_gans\.tasks\.moments needs num_samples: pass task\.num_samples="):
        evaluate(unset)


def test_a_new_dataset_trains(project, cli):
    """data=bars (my_gans.data.BarsDataModule) under the page's command: a run on the user's own data."""
    run = project / "runs" / "bars"
    assert (run / "checkpoints" / "last.ckpt").is_file()
    cells = grid_cells(run / "samples" / "epoch_001.png")
    assert cells.shape == (64, 16, 16)
    stored = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["config"]["data"]
    assert stored["_target_"] == "my_gans.data.BarsDataModule" and stored["size"] == 512


def test_typos_in_the_new_model_are_reported_by_key(importable):
    """The signature check covers a model of one's own: an unknown key and a wrongly typed value are each
    named with the full key, before anything is built (compose_train with hydra.searchpath, in-process)."""
    from gan_experiments.config import ConfigError, validate

    base = [f"hydra.searchpath=[file://{importable / 'conf'}]", "model=fm_gan", "logger=none", "metrics=none"]
    validate(compose_train(base))  # the page's config as it is: valid
    with pytest.raises(ConfigError) as err:
        validate(compose_train([*base, "+model.feature_machting=1.0"]))
    assert ("model.feature_machting is not a parameter of my_gans.feature_matching.FeatureMatchingGAN: it takes "
            "generator, discriminator, loss, optimizer_g, optimizer_d, feature_matching") in str(err.value)
    assert "model.feature_machting is not a parameter" in DOC.read_text()  # the page quotes this message
    with pytest.raises(ConfigError, match=r"model\.feature_matching='abc' is invalid: expected float"):
        validate(compose_train([*base, "model.feature_matching=abc"]))
    with pytest.raises(ConfigError, match=r"model\.discriminator\.hidden='wide' is invalid: expected int"):
        validate(compose_train([*base, "model.discriminator.hidden=wide"]))


def test_evaluate_py_finds_tasks_on_the_search_path(tmp_path):
    """evaluate.py checks task=NAME before Hydra runs: the options of conf/task/ and of every
    ``hydra.searchpath`` folder's task/ count, and a misspelled one is refused listing both."""
    from gan_experiments.config import ConfigError
    from gan_experiments.config.task_schemas import task_overrides

    tasks = ROOT / "conf" / "task"
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "moments.yaml").write_text("_target_: my_gans.tasks.moments\n")
    searchpath = f"hydra.searchpath=[file://{tmp_path}]"
    assert task_overrides([searchpath, "task=moments", "num_images=3"], tasks)[1:] == ["task=moments", "task.num_images=3"]
    with pytest.raises(ConfigError, match=r"task='moments' is not a task"):
        task_overrides(["task=moments"], tasks)
    with pytest.raises(ConfigError, match=r"task='moment' is not a task; choose one of .*metrics, moments, noise"):
        task_overrides([searchpath, "task=moment"], tasks)
    assert task_overrides(["hydra.searchpath=[pkg://my_gans.conf]", "task=moments"], tasks)[1] == "task=moments"
