"""Behaviour that had no test (issue 17): what ``train()`` returns without the metrics.json callback and a
sweep's ``optimized_metric``, ``evaluate.py`` with an unknown task, ``ckpt_path=auto`` with SLURM's
``hpc_ckpt_*.ckpt``, the data-order seed of unseeded runs (shared by DDP ranks, fresh per multirun job),
the translation models' schedule-length warning, and config validation rules whose key no longer exists."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from gan_experiments import pipeline
from gan_experiments.config import ConfigError, MultirunError
from gan_experiments.config import validation as config_validation
from gan_experiments.pipeline import build_module, check_optimized_metric, resume_path, train
from gan_experiments.run_dir import check_new_run
from tests.helpers import CONF, FAST, ROOT, SMALL_IMAGES, compose_train, small_networks

TINY = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.limit_train_batches=2", "seed=3"]


def run_entry(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --- 1. train() returns the final metrics with or without the metrics.json callback ----------------------

@pytest.fixture(scope="module")
def reference_metrics(tmp_path_factory):
    """A run with the default metrics.json callback: its file is what train() returns."""
    out = tmp_path_factory.mktemp("with_callback")
    metrics = train(compose_train(TINY, out))
    assert metrics == json.loads((out / "metrics.json").read_text())
    assert "train/d_loss" in metrics and "train/g_loss" in metrics
    return metrics


@pytest.mark.parametrize("where", ["off", "moved"])
def test_train_returns_the_final_metrics_whatever_the_metrics_json_callback_does(where, reference_metrics, tmp_path):
    """callbacks.metrics_json=null, or its path elsewhere: train() returned {} (and a sweep got None)."""
    moved = tmp_path / "elsewhere" / "m.json"
    change = "callbacks.metrics_json=null" if where == "off" else f"callbacks.metrics_json.path={moved}"
    metrics = train(compose_train([*TINY, change], tmp_path / "run"))
    assert metrics.keys() == reference_metrics.keys()
    for key, value in reference_metrics.items():  # same seed, same CPU: the same numbers
        assert metrics[key] == pytest.approx(value, rel=1e-5), key
    assert not (tmp_path / "run" / "metrics.json").exists()
    if where == "moved":
        assert json.loads(moved.read_text()) == metrics


def test_the_optimized_metric_is_returned_without_the_metrics_json_callback(tmp_path):
    """train.py's run_job returns cfg.optimized_metric from train()'s metrics: a float, not None."""
    import train as train_entry  # train.py at the repository root (on sys.path: the tests' rootdir)
    from gan_experiments.sweeps import run_job

    cfg = compose_train([*TINY, "callbacks.metrics_json=null", "optimized_metric=train/d_loss"], tmp_path)
    value = run_job(cfg, train_entry.train_for_sweeper)
    assert isinstance(value, float) and value == value  # finite, not None


def test_a_missing_optimized_metric_names_the_key_and_the_metrics_there_are():
    metrics = {"train/d_loss": 0.5, "train/g_loss": 1.0, "fid_features": "classifier-32"}
    check_optimized_metric("train/d_loss", metrics)
    check_optimized_metric(None, metrics)
    with pytest.raises(MultirunError, match=r"optimized_metric='val/fid' is not a metric of this run; "
                                            r"its metrics are: train/d_loss, train/g_loss\."):
        check_optimized_metric("val/fid", metrics)


def test_a_sweep_whose_optimized_metric_is_not_logged_stops_with_one_error_line(tmp_path):
    """An Optuna study (any sweeper) would otherwise get None from every trial; the sweep stops after the
    first job with one line naming the key and the logged metrics."""
    result = run_entry("train.py", "-m", *TINY, "seed=1,2", "optimized_metric=val/fid", "metrics=none",
                       f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 2, result.stderr[-3000:]
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "optimized_metric='val/fid'" in errors[0] and "train/d_loss" in errors[0]
    assert not (tmp_path / "1").exists()  # the second job never ran


# --- 2. evaluate.py with an unknown task -------------------------------------------------------------------

def test_evaluate_with_an_unknown_task_prints_one_error_naming_the_valid_tasks(tmp_path):
    result = run_entry("evaluate.py", "task=sampels", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "task='sampels'" in errors[0]
    for task in sorted(p.stem for p in (CONF / "task").glob("*.yaml")):  # the options of the task group
        assert task in errors[0], task


# --- 3. ckpt_path=auto and Lightning's SLURM hpc_ckpt_*.ckpt -------------------------------------------------

@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """last.ckpt after 1 and after 2 epochs of the same tiny run, and the config that wrote them."""
    root = tmp_path_factory.mktemp("hpc")
    cfg1 = compose_train([*TINY, "trainer.max_epochs=1"], root / "one")
    train(cfg1)
    train(compose_train([*TINY, "trainer.max_epochs=2"], root / "two"))
    return cfg1, root / "one/checkpoints/last.ckpt", root / "two/checkpoints/last.ckpt"


def place(src: Path, dst: Path, mtime: float) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    os.utime(dst, (mtime, mtime))
    return dst


def test_ckpt_path_auto_resumes_a_newer_hpc_checkpoint_after_a_slurm_requeue(two_checkpoints, tmp_path):
    """SLURM auto-requeue: Lightning saves hpc_ckpt_<n>.ckpt into the run directory on the requeue signal;
    it is the newest state, so ckpt_path=auto must pick it over the older checkpoints/last.ckpt."""
    cfg, epoch0, epoch1 = two_checkpoints
    module = build_module(cfg)
    last = place(epoch0, tmp_path / "checkpoints/last.ckpt", 1_000_000)
    hpc = place(epoch1, tmp_path / "hpc_ckpt_1.ckpt", 2_000_000)
    assert resume_path("auto", tmp_path, module) == str(hpc)
    # an older hpc checkpoint (the run went on and wrote last.ckpt since) does not win
    os.utime(hpc, (500_000, 500_000))
    assert resume_path("auto", tmp_path, module) == str(last)
    # the newest of several hpc checkpoints
    hpc2 = place(epoch1, tmp_path / "hpc_ckpt_2.ckpt", 3_000_000)
    assert resume_path("auto", tmp_path, module) == str(hpc2)


def test_a_damaged_newer_hpc_checkpoint_is_named_and_skipped(two_checkpoints, tmp_path):
    cfg, epoch0, _ = two_checkpoints
    last = place(epoch0, tmp_path / "checkpoints/last.ckpt", 1_000_000)
    hpc = tmp_path / "hpc_ckpt_1.ckpt"
    hpc.write_bytes(epoch0.read_bytes()[:1000])  # killed mid-write
    os.utime(hpc, (2_000_000, 2_000_000))
    with pytest.warns(UserWarning, match=r"skipped 1 newer checkpoint.*hpc_ckpt_1\.ckpt"):
        assert resume_path("auto", tmp_path, build_module(cfg)) == str(last)


def test_training_continues_from_an_hpc_checkpoint_and_a_new_run_is_refused_there(two_checkpoints, tmp_path):
    _, _, epoch1 = two_checkpoints
    run = tmp_path / "run"
    place(epoch1, run / "hpc_ckpt_1.ckpt", 2_000_000)
    with pytest.raises(ConfigError, match=r"holds another run's checkpoints \(hpc_ckpt_1\.ckpt\)"):
        check_new_run(run, None, overwrite=False, clear=False)
    train(compose_train([*TINY, "trainer.max_epochs=3", "ckpt_path=auto"], run))
    ckpt = torch.load(run / "checkpoints/last.ckpt", weights_only=True)
    assert ckpt["epoch"] == 2  # epochs 0-1 came from the hpc checkpoint: only epoch 2 was trained here
    assert not (run / "samples/epoch_001.png").exists() and (run / "samples/epoch_003.png").is_file()


# --- 4. seed=null: one data order per run, shared by its DDP ranks, fresh for each multirun job -------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unseeded_ddp_ranks_launched_separately_share_the_data_order(tmp_path):
    """torchrun (as SLURM's srun) starts every rank as its own process: each drew its own seed, so the
    ranks' shards of "the" permutation overlapped and missed samples. All ranks now use rank 0's seed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
         "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{free_port()}", "train.py",
         *FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.limit_train_batches=2", "seed=null",
         "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
         "+callbacks.order._target_=tests.helpers.RecordDataOrder", f"+callbacks.order.dirpath={tmp_path}/order",
         f"hydra.run.dir={tmp_path}/run"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (json.loads((tmp_path / f"order/order_rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["world_size"] == rank1["world_size"] == 2
    assert rank0["seed"] == rank1["seed"]
    assert not set(rank0["indices"]) & set(rank1["indices"])  # disjoint shards of one permutation
    assert len(rank0["indices"]) == len(rank1["indices"]) > 0


def test_unseeded_ddp_spawn_ranks_share_the_data_order(tmp_path):
    train(compose_train([*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.limit_train_batches=2",
                         "seed=null", "trainer=ddp_spawn", "trainer.accelerator=cpu", "trainer.devices=2",
                         "+callbacks.order._target_=tests.helpers.RecordDataOrder",
                         f"+callbacks.order.dirpath={tmp_path}/order"], tmp_path / "run"))
    rank0, rank1 = (json.loads((tmp_path / f"order/order_rank{r}.json").read_text()) for r in (0, 1))
    assert rank0["seed"] == rank1["seed"] and not set(rank0["indices"]) & set(rank1["indices"])


def test_each_job_of_an_unseeded_multirun_gets_its_own_data_order(tmp_path):
    """Hydra's basic launcher runs the jobs one after another in one process."""
    result = run_entry("train.py", "-m", *FAST, *SMALL_IMAGES, *small_networks("dcgan"), "seed=null",
                       "trainer.limit_train_batches=1,2,3", "+callbacks.order._target_=tests.helpers.RecordDataOrder",
                       "+callbacks.order.dirpath=${paths.output_dir}/order", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    seeds = [json.loads((tmp_path / f"{job}/order/order_rank0.json").read_text())["seed"] for job in range(3)]
    assert len(set(seeds)) == 3, seeds


def test_a_job_that_fails_before_training_does_not_hand_its_data_seed_to_the_next(tmp_path, monkeypatch):
    """The seed drawn by a job that failed between drawing it and fitting (here: a callback that cannot be
    built) stayed in the environment, and the next unseeded job of the multirun reused it."""
    drawn = []
    draw = pipeline.data_order_seed
    monkeypatch.setattr(pipeline, "data_order_seed", lambda seed: drawn.append(draw(seed)) or drawn[-1])
    unseeded = [*FAST, *SMALL_IMAGES, *small_networks("dcgan"), "trainer.limit_train_batches=1", "seed=null"]
    with pytest.raises(ConfigError, match="callbacks.broken"):
        train(compose_train([*unseeded, "+callbacks.broken._target_=tests.helpers.NoSuchCallback"], tmp_path / "a"))
    assert "GAN_EXPERIMENTS_DATA_SEED" not in os.environ
    train(compose_train(unseeded, tmp_path / "b"))
    assert len(drawn) == 2 and drawn[0] != drawn[1]


def test_a_seeded_run_orders_its_data_by_its_seed_on_every_call():
    assert pipeline.data_order_seed(7) == pipeline.data_order_seed(7) == 7
    assert len({pipeline.data_order_seed(None) for _ in range(5)}) == 5


# --- 5. the schedule-length warning of cyclegan / pix2pix ------------------------------------------------

@pytest.mark.parametrize(("model", "data"), [("cyclegan", "horse2zebra"), ("pix2pix", "facades")])
@pytest.mark.parametrize(("max_epochs", "warns"), [(5, False), (4, True), (8, True), (-1, False)])
def test_schedule_length_warning(model, data, max_epochs, warns, tmp_path):
    """model.n_epochs + model.n_epochs_decay = 2 + 3 = 5 epochs of learning-rate schedule."""
    cfg = compose_train([f"model={model}", f"data={data}", *small_networks(model), "model.n_epochs=2",
                         "model.n_epochs_decay=3", f"trainer.max_epochs={max_epochs}"], tmp_path)
    module = build_module(cfg)
    module._trainer = SimpleNamespace(max_epochs=cfg.trainer.max_epochs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module.on_fit_start()
    messages = [str(w.message) for w in caught if "n_epochs_decay" in str(w.message)]
    if warns:
        assert len(messages) == 1, messages
        assert f"= 5 epochs but trainer.max_epochs={max_epochs}" in messages[0]
        if max_epochs > 5:  # the reference rule 1 - max(0, e + 2 - 2) / 4 is 0 at 0-based epoch 4 (the 5th)
            assert "the rate is 0 from epoch 5 on" in messages[0] and f"epochs 6-{max_epochs} leave" in messages[0]
            assert module.schedule(4) == 0 and module.schedule(3) > 0
    else:
        assert messages == []


@pytest.mark.parametrize(("n_epochs", "n_epochs_decay", "share"), [(2, 3, 20), (6, 3, 11), (6, 4, None), (100, 100, None)])
def test_zero_rate_last_epoch_warning(n_epochs, n_epochs_decay, share, tmp_path):
    """The reference's last epoch trains at rate 0: a warning when it is over a tenth of the run (1/5 = 20 %,
    1/9 = 11 %; 1/10 and 1/200 pass quietly). trainer.max_epochs follows the schedule's length."""
    cfg = compose_train(["model=cyclegan", "data=horse2zebra", *small_networks("cyclegan"), f"model.n_epochs={n_epochs}",
                         f"model.n_epochs_decay={n_epochs_decay}"], tmp_path)
    module = build_module(cfg)
    total = n_epochs + n_epochs_decay
    assert cfg.trainer.max_epochs == total and module.schedule(total - 1) == 0 < module.schedule(total - 2)
    module._trainer = SimpleNamespace(max_epochs=cfg.trainer.max_epochs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module.on_fit_start()
    messages = [str(w.message) for w in caught if "learning rate 0" in str(w.message)]
    if share is None:
        assert messages == []
    else:
        assert len(messages) == 1 and f"the last of the {total} scheduled epochs" in messages[0]
        assert f"that is {share} % of the training time" in messages[0]


def test_schedule_length_warning_reaches_the_user_through_train(tmp_path):
    """The same warning from a real (tiny) pix2pix run on synthetic paired images."""
    from tests.helpers import write_image_folders

    write_image_folders(tmp_path / "data", {"train": 4, "val": 2}, size=(64, 32))
    overrides = [*FAST, "model=pix2pix", "data=paired", f"data.path={tmp_path / 'data'}", "data.image_size=32",
                 "data.batch_size=2", "metrics=none", *small_networks("pix2pix"), "trainer.limit_train_batches=1",
                 "model.n_epochs=1", "model.n_epochs_decay=1", "callbacks.translation_panels=null"]
    cfg = compose_train(overrides, tmp_path / "run")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(cfg)
    messages = [str(w.message) for w in caught if "n_epochs_decay" in str(w.message)]
    assert messages == ["the learning-rate schedule spans model.n_epochs + model.n_epochs_decay = 2 epochs but "
                        "trainer.max_epochs=1: training stops before the rate has decayed to 0; set them to match"]


# --- 6. every validation rule's key exists in some composed config --------------------------------------

def group_options(group: str) -> list[str]:
    folder = CONF / group
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))


def composed_configs() -> list:
    """The train config with each option of each group (the others at their defaults), the evaluate config
    with each option of its groups, and every experiment."""
    train_groups = ["data", "trainer", "optimizer", "loss", "logger", "callbacks", "metrics", "model", "experiment",
                    "hparams_search"]
    evaluate_groups = ["data", "metrics"]
    configs = []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for name, groups in (("train", train_groups), ("evaluate", evaluate_groups)):
            configs.append(compose(config_name=name, overrides=["hydra.run.dir=."]))
            for group in groups:
                for option in group_options(group):
                    configs.append(compose(config_name=name, overrides=[f"{group}={option}", "hydra.run.dir=."]))
    return configs


@pytest.fixture(scope="module")
def all_configs():
    return composed_configs()


def has_key(cfg, key: str) -> bool:
    """Whether the dotted ``key`` exists (its value unresolved: ``${hydra:...}`` needs a running Hydra)."""
    node = OmegaConf.to_container(cfg, resolve=False)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def leaf_names(cfg) -> set[str]:
    names = set()
    for group in config_validation._CHECKED_GROUPS:
        node = cfg.get(group)
        if OmegaConf.is_dict(node):
            names |= {key.rsplit(".", 1)[-1] for key in config_validation._leaf_keys(
                OmegaConf.to_container(node, resolve=False), group)}
    return names


# a rule whose key exists in no config: xfail with the reason while its owner fixes it
STALE_RULES: dict[str, str] = {}


@pytest.mark.parametrize("key", sorted({rule.key for rule in config_validation.RULES}))
def test_every_validation_rule_key_exists_in_some_composed_config(key, all_configs):
    """A rule applies only where its key exists: after a key is renamed in conf/, its rule silently stops
    checking anything. Each RULES key must exist in at least one composed config."""
    if key in STALE_RULES:
        pytest.xfail(STALE_RULES[key])
    assert any(has_key(cfg, key) for cfg in all_configs), (
        f"no composed train/evaluate config has the key {key!r}: its rule in gan_experiments/config/validation.py "
        "checks nothing (renamed or removed key?)")


STALE_FIELDS: dict[str, str] = {}


@pytest.mark.parametrize("field", sorted(config_validation.FIELDS))
def test_every_field_rule_names_an_option_of_some_composed_config(field, all_configs):
    """FIELDS are checked by the last part of a key under model/data/loss/metrics/callbacks/trainer."""
    if field in STALE_FIELDS:
        pytest.xfail(STALE_FIELDS[field])
    assert any(field in leaf_names(cfg) for cfg in all_configs), (
        f"no option named {field!r} under {', '.join(config_validation._CHECKED_GROUPS)} in any composed config: "
        "its FIELDS rule in gan_experiments/config/validation.py checks nothing")
