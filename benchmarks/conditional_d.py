"""Conditional discriminators compared on MNIST: concat (cGAN) vs projection (Miyato & Koyama 2018) vs AC-GAN
(Odena et al. 2017), with ``model=cgan`` and everything else equal.

For each seed and each ``model.discriminator.conditioning``, one ``python train.py model=cgan data=mnist``
run (DCGAN at 32 px with ``--base-channels``, BCE, Adam 2e-4 (0.5, 0.999), batch ``--batch-size``, ``--epochs`` epochs of at most
``--batches`` batches, the project's default precision unless ``--precision``; AC-GAN's aux_weight 1), then its last checkpoint is scored as the
training metrics callback scores it (``metrics.generator.generator_scores``, the custom protocol:
``--samples`` generated images G(z, y) from the fixed latents of seed 0, y drawn from the real labels,
against as many MNIST test images, in the feature space of the project's digit classifier):

- ``fid``: FID on the classifier's features; ``class_kl``, ``classes_covered`` (``metrics.class_coverage``);
- ``cond_acc``: class-conditional accuracy, the share of G(z, y) the classifier labels y (chance 0.1);
  ``min_class_acc``: the lowest per-class accuracy; ``per_class_acc``: the ten per-class accuracies.

Prints one JSON line per run and one summary line per conditioning (mean and spread over seeds).

    OMP_NUM_THREADS=1 python benchmarks/conditional_d.py [--seeds 0 1] [--epochs 1] [--batches 300] [--base-channels 32]
        [--conditionings concat projection acgan] [--phi sum|flatten]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONDITIONINGS = ("concat", "projection", "acgan")
SHARED_DATA = Path(os.environ.get("GAN_SHARED_DATA", ROOT.parent / "shared" / "data"))


def train_run(conditioning: str, seed: int, args, out: Path) -> float:
    """Train one variant into ``out``; returns the wall time in seconds."""
    cmd = [sys.executable, "train.py", "model=cgan", "data=mnist", f"data.root={args.data_root}",
           "data.num_workers=0", f"data.batch_size={args.batch_size}", f"trainer.max_epochs={args.epochs}",
           f"model.generator.base_channels={args.base_channels}",
           f"model.discriminator.base_channels={args.base_channels}", "metrics=none", "logger=none", "trainer.enable_progress_bar=false",
           f"seed={seed}", f"model.discriminator.conditioning={conditioning}", f"hydra.run.dir={out}"]
    if args.batches:
        cmd.append(f"trainer.limit_train_batches={args.batches}")
    if args.precision:
        cmd.append(f"trainer.precision={args.precision}")
    if args.phi and conditioning != "concat":
        cmd.append(f"model.discriminator.phi={args.phi}")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def resolved(out: Path) -> tuple[str, str | None]:
    """The run's trainer.precision and D's phi as the run resolved them (phi null: each paper's)."""
    from omegaconf import OmegaConf

    from gan_experiments.networks.dcgan import PAPER_PHI

    cfg = OmegaConf.load(out / ".hydra" / "config.yaml")
    d = cfg.model.discriminator
    return str(cfg.trainer.precision), d.get("phi") or PAPER_PHI.get(d.get("conditioning"))


def score(ckpt: Path, setup, num_classes: int) -> dict:
    """The metrics callback's scores of the checkpoint's generator, and the classifier's accuracy on G(z, y)."""

    from gan_experiments.latents import fixed_latents
    from gan_experiments.metrics.generator import generator_scores
    from gan_experiments.tools.checkpoints import load_module

    module, _ = load_module(ckpt)
    scores, _, logits = generator_scores(module, setup, seed=0)
    _, y = fixed_latents(len(logits), module.latent_dim, setup.real.labels, 0)
    hits = (logits.argmax(1) == y).float()
    per_class = [hits[y == k].mean().item() for k in range(num_classes)]
    return {"fid": scores["fid"], "class_kl": scores["class_kl"], "classes_covered": scores["classes_covered"],
            "cond_acc": hits.mean().item(), "min_class_acc": min(per_class),
            "per_class_acc": [round(a, 3) for a in per_class]}


def metrics_setup(args):
    """The custom protocol on MNIST's test split with the project's cached digit classifier (trained on
    first use, as ``metrics.features=classifier`` does)."""
    from gan_experiments.data import TorchvisionDataModule
    from gan_experiments.metrics.protocols import select_protocol, setup_protocol
    from gan_experiments.metrics.select import build_extractor

    datamodule = TorchvisionDataModule(name="mnist", root=str(args.data_root), image_size=32, channels=1,
                                       num_classes=10, download=False, batch_size=args.batch_size, num_workers=0)
    datamodule.setup("fit")
    protocol = select_protocol(None, args.samples, "classifier")
    extractor = build_extractor("classifier", datamodule, cache_dir=args.cache_dir)
    return setup_protocol(protocol, datamodule, extractor, lambda: None, args.cache_dir)


def summary(rows: list[dict], conditioning: str) -> dict:
    mine = [r for r in rows if r["conditioning"] == conditioning]
    out = {"benchmark": "conditional_d", "conditioning": conditioning, "phi": mine[0]["phi"],
           "seeds": [r["seed"] for r in mine]}
    for key in ("fid", "cond_acc", "min_class_acc", "class_kl", "classes_covered"):
        values = [r[key] for r in mine]
        out[key] = round(statistics.mean(values), 4)
        out[f"{key}_spread"] = round((max(values) - min(values)) / 2, 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batches", type=int, default=300, help="trainer.limit_train_batches per epoch (0: all 938)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--base-channels", type=int, default=32, help="G's and D's base_channels (model=cgan's: 64)")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--precision", default=None,
                        help="trainer.precision (default: the project's CPU default, bf16-mixed only with native bf16)")
    parser.add_argument("--phi", choices=("sum", "flatten"), default=None,
                        help="model.discriminator.phi for projection and acgan (default: each paper's)")
    parser.add_argument("--conditionings", nargs="+", default=list(CONDITIONINGS), choices=CONDITIONINGS)
    parser.add_argument("--data-root", type=Path, default=SHARED_DATA)
    parser.add_argument("--cache-dir", default=os.environ.get("GAN_CACHE_DIR", "~/.cache/gan_experiments"))
    args = parser.parse_args()
    setup = metrics_setup(args)
    rows = []
    for seed in args.seeds:
        for conditioning in args.conditionings:
            with tempfile.TemporaryDirectory() as out:
                seconds = train_run(conditioning, seed, args, Path(out))
                precision, phi = resolved(Path(out))
                row = {"benchmark": "conditional_d_run", "conditioning": conditioning, "seed": seed, "phi": phi,
                       "epochs": args.epochs, "batches_per_epoch": args.batches or "all",
                       "batch_size": args.batch_size, "base_channels": args.base_channels, "precision": precision,
                       "train_seconds": round(seconds),
                       **score(Path(out, "checkpoints", "last.ckpt"), setup, 10),
                       "features": setup.extractor.fingerprint}
            rows.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    for conditioning in args.conditionings:
        print(json.dumps(summary(rows, conditioning)), flush=True)


if __name__ == "__main__":
    main()
