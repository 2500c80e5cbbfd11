"""Hydra multiruns that survive a failed job: each job records its outcome, the sweep goes on, and the end
of the sweep lists every job (``<sweep dir>/sweep_summary.json``) and exits non-zero if any failed.

Without this, Hydra's launchers run all jobs of a batch and then re-raise the first failure, which stops
the sweep (and an Optuna study) and leaves no overview of which values failed.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from gan_experiments.config import MultirunError
from gan_experiments.io import write_json_atomic

log = logging.getLogger(__name__)
STATUS_FILE = "job_status.json"


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_job(cfg: DictConfig, train: Callable[[DictConfig], dict[str, Any]]) -> float | None:
    """``train(cfg)``, returning ``cfg.optimized_metric`` from its metrics (for a sweeper). In a multirun,
    the outcome goes to ``<job dir>/job_status.json``, and a failure (other than a ``MultirunError``, which
    concerns every job) is logged with its traceback and returns NaN (Optuna marks the trial failed)
    instead of stopping the sweep."""
    metric = cfg.get("optimized_metric")
    if not in_multirun():
        metrics = train(cfg)
        return metrics.get(metric) if metric else None
    job = HydraConfig.get().job
    status = {"job": job.num, "overrides": job.override_dirname, "output_dir": str(cfg.paths.output_dir)}
    try:
        metrics = train(cfg)
    except MultirunError:
        raise
    except Exception as err:
        log.exception("job %s (%s) failed", job.num, job.override_dirname)
        print(f"error: job {job.num} ({job.override_dirname}) failed: {err}", file=sys.stderr)
        write_json_atomic(Path(cfg.paths.output_dir) / STATUS_FILE,
                          {**status, "status": "failed", "error": f"{type(err).__name__}: {err}"})
        return math.nan if metric else None
    value = metrics.get(metric) if metric else None
    write_json_atomic(Path(cfg.paths.output_dir) / STATUS_FILE, {**status, "status": "completed", metric or "metric": value})
    return value


class SweepSummary(Callback):
    """At the end of a multirun: ``sweep_summary.json`` in the sweep folder (every job's overrides, status,
    folder and error), one line per job on stdout, and exit status 1 when a job failed. A job whose folder
    Hydra created but that left no ``job_status.json`` (killed, out of host memory, exited) counts as
    ``lost``, a failure too."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = [job_outcome(folder) for folder in sorted(p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml"))]
        jobs.sort(key=lambda j: (j["job"] is None, j["job"] if j["job"] is not None else j["output_dir"]))
        failed = [j for j in jobs if j["status"] != "completed"]
        write_json_atomic(sweep_dir / "sweep_summary.json",
                          {"completed": len(jobs) - len(failed), "failed": len(failed), "jobs": jobs})
        print(f"sweep {sweep_dir}: {len(jobs) - len(failed)} completed, {len(failed)} failed")
        for j in jobs:
            print(f"  #{j['job']} {j['status']:9s} {j['overrides'] or '(no overrides)'}"
                  + (f"  -> {j['error']}" if j["status"] != "completed" else ""))
        if failed:
            sys.exit(1)


def job_outcome(folder: Path) -> dict:
    """What ``run_job`` recorded in a job folder, or a ``lost`` entry when it recorded nothing."""
    status = folder / STATUS_FILE
    if status.is_file():
        return json.loads(status.read_text())
    overrides = ",".join(yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or [])
    number = int(folder.name) if folder.name.isdigit() else None
    return {"job": number, "overrides": overrides, "output_dir": str(folder), "status": "lost",
            "error": "no result: the job was killed or exited before finishing (see its log)"}
