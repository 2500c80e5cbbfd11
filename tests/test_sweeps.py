"""Hydra multiruns: a λ sweep gives complete runs, Optuna tunes λ, W&B runs are grouped by sweep, a failed
job is listed while the others finish, and ddp inside a multirun is refused (it would re-run the sweep on
every rank)."""

import json
import os
import subprocess
import sys

import pytest
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import open_dict

from tests.helpers import ROOT, SHARED_DATA, compose_train, small_networks


def tiny_cyclegan(tmp_path):
    return ["model=cyclegan", "data=horse2zebra", f"data.root={SHARED_DATA}", "data.image_size=32",
            "data.num_workers=0", *small_networks("cyclegan"), "trainer.max_epochs=1", "trainer.limit_train_batches=3",
            "trainer.enable_progress_bar=false", "metrics.num_samples=20", "metrics.classifier_steps=30",
            f"hydra.sweep.dir={tmp_path}"]


def run_train(args, env=None, timeout=600):
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_ddp_inside_a_multirun_is_refused(tmp_path):
    result = run_train(["-m", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "seed=1,2",
                        f"hydra.sweep.dir={tmp_path}", "logger=none"], timeout=300)
    assert result.returncode == 2
    assert "re-launches the command line for every rank" in result.stderr and "ddp_spawn" in result.stderr
    assert not list(tmp_path.glob("*/checkpoints"))


def test_a_failed_job_does_not_stop_the_sweep_and_is_listed(tmp_path):
    """Job 1 holds out every digit for validation: the config validates, but its data module refuses the
    split inside trainer.fit; jobs 0 and 2 still run to the end, and the summary names the failure (exit
    status 1)."""
    result = run_train(["-m", "data.val_fraction=0.1,0.9999,0.2", "data.batch_size=16", "trainer.max_epochs=1",
                        "trainer.limit_train_batches=2",
                        "trainer.enable_progress_bar=false", "logger=none", "metrics=none", *small_networks("dcgan"),
                        "data.image_size=16", f"hydra.sweep.dir={tmp_path}"], timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    summary = json.loads((tmp_path / "sweep_summary.json").read_text())
    assert (summary["completed"], summary["failed"]) == (2, 1)
    statuses = {j["job"]: j for j in summary["jobs"]}
    assert statuses[1]["status"] == "failed" and "holds out all 1797 of the 1797 images" in statuses[1]["error"]
    assert "data.val_fraction=0.9999," in statuses[1]["overrides"]
    for job in (0, 2):
        assert statuses[job]["status"] == "completed" and (tmp_path / str(job) / "checkpoints/last.ckpt").is_file()
    assert "#1 failed" in result.stdout and "2 completed, 1 failed" in result.stdout


def test_wandb_runs_are_grouped_by_sweep(tmp_path):
    """The WandbLogger built for a multirun job is in the sweep's group and named by the job's overrides;
    the same config outside a multirun gives W&B's own defaults (no group, no name)."""
    from hydra import compose, initialize_config_dir
    from lightning.pytorch.loggers import WandbLogger

    from gan_experiments.pipeline import build_loggers
    from tests.helpers import CONF

    cfg = compose_train(["logger=wandb", "logger.wandb.mode=disabled"], tmp_path)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        hydra_cfg = compose(config_name="train", overrides=["seed=3"], return_hydra_config=True)
    with open_dict(hydra_cfg):
        hydra_cfg.hydra.mode = RunMode.MULTIRUN
        hydra_cfg.hydra.sweep.dir = str(tmp_path / "multiruns" / "2026-11-23_10-00-00")
        hydra_cfg.hydra.job.override_dirname = "model.lambda_cycle=5"
        hydra_cfg.hydra.job.name = "train"
    HydraConfig.instance().set_config(hydra_cfg)
    try:
        [in_sweep] = build_loggers(cfg)
    finally:
        HydraConfig.instance().cfg = None
    [alone] = build_loggers(cfg)
    assert isinstance(in_sweep, WandbLogger) and isinstance(alone, WandbLogger)
    assert (in_sweep._wandb_init["group"], in_sweep._wandb_init["name"]) == ("train/2026-11-23_10-00-00",
                                                                             "model.lambda_cycle=5")
    assert alone._wandb_init.get("group") is None and alone._wandb_init.get("name") is None


@pytest.mark.realdata
def test_lambda_sweep_gives_one_complete_run_per_value(tmp_path, shared_data):
    result = run_train(["-m", *tiny_cyclegan(tmp_path), "model.lambda_cycle=5,10", "logger=wandb"],
                       env={"WANDB_MODE": "offline"})
    assert result.returncode == 0, result.stderr[-3000:]
    for job, lam in (("0", 5.0), ("1", 10.0)):
        run = tmp_path / job
        config = yaml.safe_load((run / ".hydra/config.yaml").read_text())
        assert config["model"]["lambda_cycle"] == lam
        assert (run / "metrics.json").is_file() and (run / "checkpoints/last.ckpt").is_file()
        assert (run / "samples/a2b_epoch_001.png").is_file()
        assert len(list((run / "wandb").glob("offline-run-*"))) == 1  # its own W&B run


@pytest.mark.realdata
def test_optuna_search_tunes_the_cycle_weights(tmp_path, shared_data):
    result = run_train(["hparams_search=cyclegan_optuna", "hydra.sweeper.n_trials=2",
                        "hydra.sweeper.sampler.n_startup_trials=2", "logger=none", *tiny_cyclegan(tmp_path)])
    assert result.returncode == 0, result.stderr[-3000:]
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"model.lambda_cycle", "model.lambda_identity"}
    trials = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert len(trials) == 2
    # minimize: the best value is the lower trial's val/fid_a2b, and its parameters are that trial's
    scores = {t: json.loads((t / "metrics.json").read_text())["val/fid_a2b"] for t in trials}
    winner = min(scores, key=scores.get)
    assert best["best_value"] == pytest.approx(scores[winner])
    config = yaml.safe_load((winner / ".hydra/config.yaml").read_text())["model"]
    assert best["best_params"]["model.lambda_cycle"] == pytest.approx(config["lambda_cycle"])


def test_a_job_that_left_no_result_counts_as_lost(tmp_path):
    """A job killed from outside (no job_status.json, only Hydra's .hydra/ folder) is a failure too."""
    from omegaconf import OmegaConf

    from gan_experiments.sweeps import SweepSummary

    for job, overrides in ((0, ["seed=1"]), (1, ["seed=2"])):
        (tmp_path / str(job) / ".hydra").mkdir(parents=True)
        (tmp_path / str(job) / ".hydra/overrides.yaml").write_text(yaml.safe_dump(overrides))
    (tmp_path / "0/job_status.json").write_text(json.dumps(
        {"job": 0, "overrides": "seed=1", "output_dir": str(tmp_path / "0"), "status": "completed"}))
    with pytest.raises(SystemExit) as stopped:
        SweepSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}))
    assert stopped.value.code == 1
    summary = json.loads((tmp_path / "sweep_summary.json").read_text())
    assert (summary["completed"], summary["failed"]) == (1, 1)
    assert summary["jobs"][1] | {"error": None} == {"job": 1, "overrides": "seed=2", "output_dir": str(tmp_path / "1"),
                                                    "status": "lost", "error": None}
