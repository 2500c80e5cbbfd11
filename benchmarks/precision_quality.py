"""Does bf16-mixed keep quality? fp32 against bf16-mixed at equal steps and seeds (3 seeds by default).

For each experiment, ``python train.py`` runs with the same data, networks, batches, seed and metric settings,
``trainer.precision=32-true`` and ``bf16-mixed``; metrics once, after the last epoch (the dataset's own
classifier features: no InceptionV3 weights can be downloaded here). Each run prints one JSON line
(scores and wall seconds); each experiment then one summary line per score: the mean and the seed
standard deviation of both precisions, the difference of the means, and ``holds`` = the difference is
within the larger of the two seed spreads (the decision rule for making bf16 the CPU default).

    python benchmarks/precision_quality.py [--experiments dcgan_mnist ...] [--seeds 0 1 2] [--reuse FILE]

``--reuse FILE`` takes the runs already printed into FILE (this script's output) instead of training them
again, so an interrupted study continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import SHARED_DATA  # noqa: E402

MNIST = ["data=mnist", f"data.root={SHARED_DATA}", "data.image_size=32", "data.batch_size=64", "metrics.num_samples=2000"]
# experiment -> (overrides, scores): one to four minutes of 2 CPU cores per fp32 run
EXPERIMENTS = {
    "dcgan_mnist": ([*MNIST, "model=dcgan", "trainer.limit_train_batches=400"], ("fid", "precision", "recall")),
    "wgan_gp_mnist": ([*MNIST, "model=dcgan", "loss=wgan_gp", "trainer.limit_train_batches=800"],
                      ("fid", "precision", "recall")),
    "stylegan_celeba32": (["model=stylegan", "data=celeba", f"data.root={SHARED_DATA}", "data.image_size=32",
                           "data.batch_size=32", "model.generator.base_channels=16", "model.generator.w_dim=128",
                           "model.generator.latent_dim=128", "model.generator.mapping_layers=4",
                           "model.fade_images=3200", "model.stable_images=3200", "trainer.limit_train_batches=500",
                           "metrics.num_samples=2000"],
                          ("fid", "precision", "recall")),
    "cyclegan_h2z64": (["model=cyclegan", "data=horse2zebra", f"data.root={SHARED_DATA}", "data.image_size=64",
                        "data.batch_size=1", "model.generator_ab.base_channels=32", "model.discriminator_a.base_channels=32",
                        "trainer.limit_train_batches=250", "callbacks.translation_panels=null",
                        "metrics.num_samples=120"],
                       ("fid_a2b", "fid_b2a", "domain_accuracy_a2b", "domain_accuracy_b2a")),
}
PRECISIONS = ("32-true", "bf16-mixed")


def run(experiment: str, precision: str, seed: int) -> dict:
    overrides, scores = EXPERIMENTS[experiment]
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "train.py", *overrides, "data.num_workers=0", f"seed={seed}", f"trainer.precision={precision}",
               "trainer.max_epochs=1", "metrics.every_n_epochs=1", "metrics.classifier_steps=600", "logger=none",
               "trainer.enable_progress_bar=false", "callbacks.sample_grid=null", f"hydra.run.dir={out}"]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        metrics = json.loads(Path(out, "metrics.json").read_text())
    return {"experiment": experiment, "trainer_precision": precision, "seed": seed,
            "seconds": round(time.monotonic() - started, 1),
            **{name: round(metrics[f"val/{name}"], 4) for name in scores}, "features": metrics.get("val/features", "")}


def summarize(experiment: str, rows: list[dict]) -> list[dict]:
    """Per score: mean and seed std of each precision, the difference of the means, and whether it is
    within the larger seed spread."""
    out = []
    for score in EXPERIMENTS[experiment][1]:
        values = {p: [r[score] for r in rows if r["trainer_precision"] == p] for p in PRECISIONS}
        mean = {p: statistics.mean(v) for p, v in values.items()}
        std = {p: statistics.stdev(v) if len(v) > 1 else 0.0 for p, v in values.items()}
        diff = mean["bf16-mixed"] - mean["32-true"]
        out.append({"experiment": experiment, "score": score, "fp32_mean": round(mean["32-true"], 4),
                    "fp32_std": round(std["32-true"], 4), "bf16_mean": round(mean["bf16-mixed"], 4),
                    "bf16_std": round(std["bf16-mixed"], 4), "difference": round(diff, 4),
                    "holds": abs(diff) <= max(std.values())})
    speed = {p: statistics.mean(r["seconds"] for r in rows if r["trainer_precision"] == p) for p in PRECISIONS}
    out.append({"experiment": experiment, "score": "seconds_per_run", "fp32_mean": round(speed["32-true"], 1),
                "bf16_mean": round(speed["bf16-mixed"], 1), "speedup": round(speed["32-true"] / speed["bf16-mixed"], 2)})
    return out


def previous_runs(path: Path) -> dict[tuple[str, str, int], dict]:
    """The run lines of an earlier output, by (experiment, precision, seed)."""
    if not path.is_file():
        raise SystemExit(f"--reuse {path}: no such file")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return {(r["experiment"], r["trainer_precision"], r["seed"]): {k: v for k, v in r.items() if k != "benchmark"}
            for r in rows if r.get("benchmark") == "precision_quality_run"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--reuse", type=Path, help="an earlier output of this script whose runs are kept")
    args = parser.parse_args()
    done = previous_runs(args.reuse) if args.reuse else {}
    for experiment in args.experiments:
        rows = []
        for seed in args.seeds:
            for precision in PRECISIONS:  # interleaved: machine load drifts touch both alike
                rows.append(done.get((experiment, precision, seed)) or run(experiment, precision, seed))
                print(json.dumps({"benchmark": "precision_quality_run", **rows[-1]}), flush=True)
        for line in summarize(experiment, rows):
            print(json.dumps({"benchmark": "precision_quality", **line}), flush=True)


if __name__ == "__main__":
    main()
