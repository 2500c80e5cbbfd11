"""Mode coverage of the toy2d experiments on the 8-Gaussian ring, over several seeds.

Runs `python train.py experiment=<name> seed=<s>` for each experiment and seed (each in its own process,
as a user would), and prints one JSON line per run plus a summary line per experiment:
modes covered (of 8) and high-quality fraction on 2,500 samples (VEEGAN/PacGAN protocol), wall time and
the CPU time (user + system) of the train.py process: on a shared machine the wall time includes waiting for
a core, the CPU time does not (with OMP_NUM_THREADS=1 it is what the run takes on one quiet core).

    python benchmarks/toy2d.py [--experiments toy2d_gan toy2d_wgan_gp] [--seeds 0 1 2] [--keep DIR] [-- extra overrides]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(experiment: str, seed: int, overrides: list[str], keep: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = tmp if keep is None else keep / f"{experiment}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
        start, cpu_start = time.perf_counter(), _children_cpu_seconds()
        cmd = [sys.executable, "train.py", f"experiment={experiment}", f"seed={seed}", "logger=none",
               "trainer.enable_progress_bar=false", f"hydra.run.dir={out}", *overrides]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        seconds, cpu_seconds = time.perf_counter() - start, _children_cpu_seconds() - cpu_start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        metrics = json.loads(Path(out, "metrics.json").read_text())
    return {
        "experiment": experiment,
        "seed": seed,
        "overrides": overrides,
        "modes_covered": metrics["val/modes_covered"],
        "high_quality_fraction": round(metrics["val/high_quality_fraction"], 4),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
    }


def _children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished (waited-for) children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", default=["toy2d_gan", "toy2d_wgan_gp"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep each run directory (samples/*.png, metrics.json) under this folder")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args()
    for experiment in args.experiments:
        runs = []
        for seed in args.seeds:
            runs.append(run(experiment, seed, args.overrides, args.keep))
            print(json.dumps(runs[-1]), flush=True)
        print(json.dumps({
            "experiment": experiment,
            "overrides": args.overrides,
            "seeds": args.seeds,
            "modes_covered": [r["modes_covered"] for r in runs],
            "high_quality_fraction_mean": round(statistics.mean(r["high_quality_fraction"] for r in runs), 4),
            "runs_meeting_goal": sum(r["modes_covered"] == 8 and r["high_quality_fraction"] >= 0.8 for r in runs),
            "seconds_max": max(r["seconds"] for r in runs),
            "cpu_seconds_max": max(r["cpu_seconds"] for r in runs),
        }), flush=True)


if __name__ == "__main__":
    main()
