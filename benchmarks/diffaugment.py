"""DiffAugment on small data: DCGAN on a 1,000-image MNIST subset, without and with DiffAugment.

For each seed, two ``python train.py`` runs that differ only in ``model.diffaugment``: DCGAN at 32 px
(BCE, Adam 2e-4 (0.5, 0.999), batch 64), ``data.train_subset=1000`` (a fixed random subset of MNIST's
training split, from the shared data folder), ``--epochs`` epochs. Evaluation (metrics group, every 10
epochs and at the end): FID, KID, precision and recall of 5,000 samples against MNIST's 10,000 test
images in the feature space of a classifier trained on the whole training split (``val/features`` names
it; no InceptionV3 weights offline). Prints one JSON line per run and a summary line with the mean
final FID of each arm and ``ratio`` = with / without (below 1: DiffAugment helps).

    python benchmarks/diffaugment.py [--seeds 0 1] [--epochs 30] [--subset 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import SHARED_DATA  # noqa: E402

POLICY = "[color,translation,cutout]"


def run(seed: int, epochs: int, subset: int, policy: str | None) -> dict:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "train.py", "model=dcgan", "data=mnist", f"data.root={SHARED_DATA}",
               f"data.train_subset={subset}", "data.num_workers=0", f"trainer.max_epochs={epochs}",
               "metrics.every_n_epochs=10", "logger=none", "trainer.enable_progress_bar=false",
               f"seed={seed}", f"model.diffaugment={policy or 'null'}", f"hydra.run.dir={out}"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        metrics = json.loads(Path(out, "metrics.json").read_text())
    keys = ("val/fid", "val/kid", "val/precision", "val/recall", "best/val/fid")
    return {"diffaugment": policy or "none", "seed": seed, **{k: round(metrics[k], 4) for k in keys if k in metrics},
            "features": metrics.get("val/features", "classifier")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--subset", type=int, default=1000)
    args = parser.parse_args()
    final = {"none": [], POLICY: []}
    for seed in args.seeds:
        for policy in (None, POLICY):
            row = run(seed, args.epochs, args.subset, policy)
            final[policy or "none"].append(row["val/fid"])
            print(json.dumps({"benchmark": "diffaugment_run", **row}), flush=True)
    without, with_ = statistics.mean(final["none"]), statistics.mean(final[POLICY])
    print(json.dumps({"benchmark": "diffaugment", "data": f"mnist subset of {args.subset}", "model": "dcgan 32 px",
                      "epochs": args.epochs, "seeds": args.seeds, "fid_without": round(without, 3),
                      "fid_with": round(with_, 3), "ratio": round(with_ / without, 3)}))


if __name__ == "__main__":
    main()
