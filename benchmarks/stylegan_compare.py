"""StyleGAN vs StyleGAN2 vs StyleGAN2 + ADA on a small CelebA training set, same budget, seeds and metrics.

Each run is ``python train.py`` (as a user would; one process per run) on the CelebA 64x64 subset at
``--size`` px, trained on a fixed ``--subset`` of its training images (``data.train_subset``: the small-data
regime of Karras et al. 2020b, where the discriminator overfits and ADA should help) for ``--kimg`` thousand
real images at batch ``--batch``, every network with the same feature maps per resolution (``--base-channels``
at full resolution, doubling per halving up to ``--max-channels``: 256, 128, 64, 32 from 4 to 32 px by default,
a CPU budget; one StyleGAN2 iteration at the model's own CPU default of 256, 256, 256, 128 takes about 9 s on
one core):

- ``stylegan``: ``model=stylegan`` (progressive growing; 4x4 stable, then each new resolution fades in and
  settles over ``--kimg`` / 14 thousand images each, so the full resolution is reached at half the budget;
  ``loss=logistic_r1``);
- ``stylegan2``: ``model=stylegan2`` without augmentation (``model.augment=null model.ada=null``);
- ``stylegan2_ada``: ``model=stylegan2`` with ADA ('bgc', target 0.6; ``model.ada.kimg`` scaled to the budget
  with ``--ada-kimg`` since NVlabs' 500 assumes millions of images).

Metrics at the end of each run, on the same 5,000 generated images against the validation split (the
``metrics`` callback's FID, KID, precision/recall on the features of the dataset's attribute classifier,
since no InceptionV3 weights can be downloaded here), and the perceptual path length in W (end points,
eps 1e-4, ``--ppl-samples`` pairs, NVlabs' 1/99 % filter) with the distance ||f(x0) - f(x1)||² of the same
classifier's unit-normalized penultimate features instead of LPIPS (no VGG-16 weights here): comparable
between these runs, not with published PPLs. Prints one JSON line per run and a summary per model; the first
seed's last sample grid of each model goes to ``docs/gallery/stylegan_compare_<model>.png``.

    python benchmarks/stylegan_compare.py [--models stylegan stylegan2 stylegan2_ada] [--seeds 0]
        [--kimg 40] [--size 32] [--batch 16] [--subset 2000] [--base-channels 32] [--max-channels 256]
        [--ppl-samples 500] [--runs logs/stylegan_compare]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_experiments.metrics.ppl import perceptual_path_length  # noqa: E402
from tests.helpers import SHARED_DATA  # noqa: E402

METRICS = ("val/fid", "val/kid", "val/precision", "val/recall")


def width_overrides(model: str, args) -> list[str]:
    """The same feature maps per resolution in both generations: ``--base-channels`` at full resolution,
    doubling with each halving down to ``--max-channels`` (StyleGAN's C_r = min(base x size / r, max);
    StyleGAN2's C_r = min(channel_base / r, channel_max) with channel_base = base x size)."""
    if model == "stylegan":
        return [f"model.generator.base_channels={args.base_channels}", f"model.generator.max_channels={args.max_channels}"]
    return [f"model.generator.channel_base={args.base_channels * args.size}",
            f"model.generator.channel_max={args.max_channels}"]


def model_overrides(model: str, args) -> list[str]:
    if model == "stylegan":
        segment = int(args.kimg * 1000 / 14)
        chosen = ["model=stylegan", f"model.fade_images={segment}", f"model.stable_images={segment}"]
    elif model == "stylegan2":
        chosen = ["model=stylegan2", "model.augment=null", "model.ada=null"]
    elif model == "stylegan2_ada":
        chosen = ["model=stylegan2", f"model.ada.kimg={args.ada_kimg}"]
    else:
        raise ValueError(f"unknown model {model!r}")
    return chosen + width_overrides(model, args)


def train_command(model: str, seed: int, args, run_dir: Path) -> list[str]:
    epochs = max(1, round(args.kimg * 1000 / args.subset))
    return [sys.executable, "train.py", *model_overrides(model, args), "data=celeba", f"data.image_size={args.size}",
            f"data.batch_size={args.batch}", f"data.train_subset={args.subset}", f"seed={seed}",
            f"trainer.max_epochs={epochs}", f"metrics.every_n_epochs={epochs}", "logger=csv",
            "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}", "ckpt_path=auto"]


@functools.cache  # one classifier for every run of the session
def classifier_distance(cache_dir: Path, size: int):
    """||f(x0)/|f(x0)| - f(x1)/|f(x1)|||² [N] on the penultimate features of the CelebA attribute classifier
    the runs' metrics use (cached by the first run; no uint8 quantization, which would hide eps-sized changes)."""
    from gan_experiments.building import build
    from gan_experiments.metrics.classifier import load_or_train_classifier
    from tests.helpers import compose_train

    cfg = compose_train(["data=celeba", f"data.root={SHARED_DATA}", f"data.image_size={size}"])
    classifier, _ = load_or_train_classifier(build(cfg.data, "data"), cache_dir, 600)
    classifier.eval()

    def distance(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        f0, _ = classifier.features_and_logits(x0)
        f1, _ = classifier.features_and_logits(x1)
        return (torch.nn.functional.normalize(f0, dim=1) - torch.nn.functional.normalize(f1, dim=1)).square().sum(1)

    return distance


def run(model: str, seed: int, args) -> dict:
    from gan_experiments.tools.checkpoints import load_module

    run_dir = args.runs / f"{model}-seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    done = run_dir / "trained"  # a finished run is not trained again; an interrupted one resumes (ckpt_path=auto)
    if not done.is_file():
        with (run_dir / "compare.log").open("a") as log:
            proc = subprocess.run(train_command(model, seed, args, run_dir), cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT, env=os.environ | {"GAN_DATA_DIR": str(SHARED_DATA)})
        if proc.returncode != 0:
            raise RuntimeError(f"{model} seed {seed} failed; see {run_dir / 'compare.log'}")
        done.write_text(f"{time.perf_counter() - start:.0f} s\n")
    seconds = float(done.read_text().split()[0])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    distance = classifier_distance(args.cache_dir, args.size)  # after the first run trained it
    module, _ = load_module(run_dir / "checkpoints" / "last.ckpt")
    ppl = perceptual_path_length(module.eval(), distance, num_samples=args.ppl_samples, space="w", sampling="end",
                                 batch_size=50, seed=seed)
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    picture = publish_samples(model, run_dir, args.pictures) if seed == args.seeds[0] else None
    return {"model": model, "seed": seed, **{k.removeprefix("val/"): metrics.get(k) for k in METRICS},
            "ppl_w_end_classifier": ppl.ppl, "ada_p": float(ckpt["state_dict"].get("augment.p", math.nan)),
            "kimg": args.kimg, "subset": args.subset, "size": args.size, "batch": args.batch,
            "channels": [args.base_channels, args.max_channels],
            "features": metrics.get("val/features"), "train_seconds": round(seconds), "picture": picture}


def publish_samples(model: str, run_dir: Path, out_dir: Path) -> str:
    """The run's last sample grid (G_ema, fixed z) saved as ``<out_dir>/stylegan_compare_<model>.png`` by the
    gallery's publisher (under its size limit); the path written."""
    from gallery import publish, samples  # the sibling script (benchmarks/ is this script's sys.path[0])

    out_dir.mkdir(parents=True, exist_ok=True)
    return str(publish(samples(f"stylegan_compare_{model}", ""), run_dir, out_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["stylegan", "stylegan2", "stylegan2_ada"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--kimg", type=float, default=40)
    parser.add_argument("--ada-kimg", type=float, default=10)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--base-channels", type=int, default=32, help="feature maps at full resolution")
    parser.add_argument("--max-channels", type=int, default=256, help="feature maps at most (low resolutions)")
    parser.add_argument("--ppl-samples", type=int, default=500)
    parser.add_argument("--runs", type=Path, default=ROOT / "logs" / "stylegan_compare")
    parser.add_argument("--pictures", type=Path, default=ROOT / "docs" / "gallery",
                        help="where the first seed's last sample grid of each model goes")
    parser.add_argument("--cache-dir", type=Path, default=Path("~/.cache/gan_experiments").expanduser())
    args = parser.parse_args()
    for model in args.models:
        rows = []
        for seed in args.seeds:
            rows.append(run(model, seed, args))
            print(json.dumps(rows[-1]), flush=True)
        summary = {"model": model, "seeds": args.seeds}
        for key in ("fid", "kid", "precision", "recall", "ppl_w_end_classifier"):
            values = [r[key] for r in rows if r[key] is not None]
            summary[key] = [round(statistics.mean(values), 4), round(statistics.pstdev(values), 4)] if values else None
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
