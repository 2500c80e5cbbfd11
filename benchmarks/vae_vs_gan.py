"""The VAE baseline against DCGAN: fidelity (FID, precision) and diversity (recall) on three datasets.

For each dataset, two ``python train.py`` runs with the same data, seed, epochs and metric settings,
``model=dcgan`` (BCE, Adam 2e-4 (0.5, 0.999)) and ``model=vae`` (negative ELBO, sigma 1, beta 1, Adam
1e-3); both networks are DCGAN-sized (the VAE's decoder is DCGAN's generator, its encoder DCGAN's
discriminator trunk). Metrics once, after the last epoch: 5,000 samples against the validation split in
the feature space of the dataset's own classifier (digit classes, or CelebA's 40 attributes; named in
``features``), since InceptionV3 weights cannot be downloaded here. Prints one JSON line per run and one
per dataset with ``fid_ratio`` = VAE / DCGAN.

    python benchmarks/vae_vs_gan.py [--datasets digits mnist celeba]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import SHARED_DATA  # noqa: E402

# dataset -> (overrides, epochs): 1.5 to 5 minutes of 2 CPU cores per run
DATASETS = {
    "digits": (["data=digits"], 30),
    "mnist": (["data=mnist", f"data.root={SHARED_DATA}", "data.train_subset=20000"], 1),
    "celeba": (["data=celeba", f"data.root={SHARED_DATA}", "data.image_size=64", "data.batch_size=128"], 3),
}


def run(model: str, dataset: str) -> dict:
    overrides, epochs = DATASETS[dataset]
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "train.py", f"model={model}", *overrides, "data.num_workers=0", "seed=0",
               f"trainer.max_epochs={epochs}", f"metrics.every_n_epochs={epochs}", "logger=none",
               "trainer.enable_progress_bar=false", f"hydra.run.dir={out}"]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        metrics = json.loads(Path(out, "metrics.json").read_text())
    return {"dataset": dataset, "model": model, "epochs": epochs, "seconds": round(time.monotonic() - started),
            **{k.removeprefix("val/"): round(metrics[k], 4) for k in ("val/fid", "val/kid", "val/precision", "val/recall")},
            "features": metrics.get("val/features", "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    for dataset in args.datasets:
        rows = {model: run(model, dataset) for model in ("dcgan", "vae")}
        for row in rows.values():
            print(json.dumps({"benchmark": "vae_vs_gan_run", **row}), flush=True)
        gan, vae = rows["dcgan"], rows["vae"]
        print(json.dumps({"benchmark": "vae_vs_gan", "dataset": dataset, "fid_dcgan": gan["fid"], "fid_vae": vae["fid"],
                          "precision_dcgan": gan["precision"], "precision_vae": vae["precision"],
                          "recall_dcgan": gan["recall"], "recall_vae": vae["recall"],
                          "fid_ratio": round(vae["fid"] / gan["fid"], 3)}), flush=True)


if __name__ == "__main__":
    main()
