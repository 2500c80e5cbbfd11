"""Peak memory of training each model at its standard size, fp32 against bf16-mixed.

For every model, in a fresh process per (model, precision): compose ``train.py``'s config (real data from
the shared data folder, ``GAN_SHARED_DATA`` or ../shared/data; the model's own defaults for networks and
batch size unless noted), build everything, then train ``--steps`` batches with ``Trainer.fit``
(no logger, metrics, sample grids or checkpoints). Reported: on CUDA the peak of
``torch.cuda.max_memory_allocated``; on CPU the growth of the resident set during ``fit``: the kernel's
peak (VmHWM) is reset just before ``fit`` (``/proc/self/clear_refs``), and the figure is the peak after
``fit`` minus the resident size before it (activations, gradients, optimizer state and allocator slack;
the imported libraries and the data are excluded). ``ratio`` = bf16 / fp32.

    python benchmarks/memory.py [--models dcgan cyclegan ...] [--steps 3] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# model -> overrides: the standard size of each (the course's and the papers' settings)
MODELS = {
    "gan": ["model=gan", "data=mnist", "data.image_size=28"],
    "dcgan": ["model=dcgan", "data=celeba", "data.image_size=64", "data.batch_size=128"],
    "wgan_gp": ["model=dcgan", "loss=wgan_gp", "data=celeba", "data.image_size=64", "data.batch_size=64"],
    "cgan": ["model=cgan", "data=mnist", "data.image_size=32"],
    "infogan": ["model=infogan", "data=mnist"],
    "stylegan": ["model=stylegan", "data=celeba", "data.image_size=64", "model.progressive=false"],
    "pix2pix": ["model=pix2pix", "data=facades", "data.image_size=256"],
    "cyclegan": ["model=cyclegan", "data=horse2zebra", "data.image_size=256"],
}
PRECISIONS = ("32-true", "bf16-mixed")


def rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """The resident set's high-water mark (VmHWM) in MiB since the last ``reset_peak_rss``."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def measure(model: str, precision: str, steps: int, device: str) -> dict:
    """One (model, precision) in this process: the memory ``fit`` adds, in MiB."""
    import torch

    from gan_experiments.pipeline import build, build_module
    from tests.helpers import SHARED_DATA, compose_train

    overrides = [*MODELS[model], f"data.root={SHARED_DATA}", "data.num_workers=0", "logger=none", "metrics=none",
                 f"trainer.precision={precision}", f"trainer.accelerator={device}", "trainer.max_epochs=1",
                 f"trainer.limit_train_batches={steps}", "trainer.enable_progress_bar=false"]
    if "data=celeba" in MODELS[model] or "data=facades" in MODELS[model] or "data=horse2zebra" in MODELS[model]:
        overrides.append("data.check_images=false")  # the files were scanned before; keep the decode out
    cfg = compose_train(overrides, ROOT / "logs" / "benchmark_memory")
    datamodule, module = build(cfg.data, "data"), build_module(cfg)
    datamodule.setup("fit")
    trainer = build(cfg.trainer, "trainer", logger=False, enable_checkpointing=False, enable_model_summary=False,
                    callbacks=[])
    reset_peak_rss()
    before = rss_mb()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, datamodule=datamodule)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else peak_rss_mb() - before
    params = sum(p.numel() for p in module.parameters()) / 1e6
    return {"model": model, "precision": precision, "device": device, "batch_size": cfg.data.batch_size,
            "image_size": cfg.data.get("image_size"), "params_m": round(params, 3), "peak_mb": round(peak, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child process: one measurement, one JSON line
        print(json.dumps(measure(*args.one, args.steps, args.device)))
        return
    for model in args.models:
        rows = {}
        for precision in PRECISIONS:  # a fresh process each: peak RSS is per process
            result = subprocess.run([sys.executable, __file__, "--one", model, precision, "--steps", str(args.steps),
                                     "--device", args.device], capture_output=True, text=True, cwd=ROOT)
            lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
            if result.returncode or not lines:
                raise SystemExit(f"{model} {precision} failed:\n{result.stderr[-3000:]}")
            rows[precision] = json.loads(lines[-1])
        fp32, bf16 = rows["32-true"], rows["bf16-mixed"]
        print(json.dumps({"benchmark": "memory", **{k: fp32[k] for k in ("model", "device", "batch_size", "image_size",
                                                                       "params_m")},
                          "fp32_peak_mb": fp32["peak_mb"], "bf16_peak_mb": bf16["peak_mb"],
                          "ratio": round(bf16["peak_mb"] / fp32["peak_mb"], 3), "steps": args.steps,
                          "machine": platform.machine()}), flush=True)


if __name__ == "__main__":
    main()
