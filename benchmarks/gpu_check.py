"""``make gpu-check``: this project's GPU checks in one prepared script, under 8 minutes on one GPU.

On a CUDA machine, in this order, each part recorded in one JSON file (``--out``):
1. the GPU tests: ``python -m pytest -m gpu tests/test_gpu.py`` (fp16 loss-scaler paths, metrics under fp16);
2. DDP on CUDA when more than one GPU is visible: ``python train.py trainer=ddp`` on all of them (DCGAN on
   digits, 1 epoch of 5 batches, logger and metrics off), checked by its checkpoint's ``global_step``;
3. throughput, by ``step_speed.measure`` (the framework's ``Trainer.fit`` and the plain PyTorch loop of the
   same step, interleaved per epoch; see step_speed.py): DCGAN 64 px (batch 128), WGAN-GP 64 px (batch 64,
   5 critic batches per step), CycleGAN 256 px (batch 1) and StyleGAN 64 px (batch 64, progressive growing
   off) in fp32 / bf16-mixed / 16-mixed, each without and with channels_last, then with torch.compile
   (fp32, and bf16 / fp16 with channels_last) where it applies (WGAN-GP and StyleGAN: double backward, not
   supported by torch.compile, recorded as skipped). ``images_per_s`` = real images per second of the
   framework, ``plain_images_per_s`` the plain loop's, ``ratio`` = framework / plain time.
A time budget (``--budget-s``, default 420 s for the whole script) keeps it under 8 minutes: a throughput
configuration that would start too close to the end is recorded as skipped ("time budget").

On a CPU (no CUDA device, or ``--tiny``): the tiny mode, so this script cannot rot: CPU device, tiny networks
and images (step_speed's ``--tiny``), 2 steps, fp16 through the CPU GradScaler plugin (``trainer=fp16_cpu``)
instead of 16-mixed, no compile (it takes minutes on a CPU), no GPU tests, no DDP (``--ddp-cpu`` runs the
DDP part with 2 CPU processes). tests/test_benchmarks.py runs it.

The lent GPU machine has torch, lightning, torchmetrics, torchvision and pytest, but no hydra-core, omegaconf
or torch-fidelity, and no package registry. Prepare their wheels here, once, into the git-ignored folder
``.device-wheels`` (the shared tool also adds it to .git/info/exclude):

    ../shared/tools/device-wheels

then run there, in the project root (device tool ``run`` with ``carry: [".device-wheels"]``, timeout_s 540):

    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py --out $OUT/gpu_check.json

When hydra is missing, the script first installs the wheels from that folder (``--wheels``) with

    python3 -m pip install -q --no-index --no-deps --no-build-isolation --find-links .device-wheels \\
        hydra-core omegaconf antlr4-python3-runtime torch-fidelity

(antlr4-python3-runtime 4.9.3 is a source archive: it builds with the machine's own setuptools and wheel).
On a machine with this project's venv: ``make gpu-check [ARGS="--out FILE"]``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

MODELS = ("dcgan", "wgan_gp", "cyclegan", "stylegan")
CONFIGS = ("fp32", "fp32+cl", "bf16", "bf16+cl", "fp16", "fp16+cl")
COMPILE_CONFIGS = ("fp32+compile", "bf16+cl+compile", "fp16+cl+compile")
# seconds a configuration is assumed to need at most (a longer one still finishes: the budget has slack)
RESERVE_S = {False: 30, True: 100}
MODULES = ("hydra", "omegaconf", "torch_fidelity")
PACKAGES = ("hydra-core", "omegaconf", "antlr4-python3-runtime", "torch-fidelity")


def ensure_packages(wheels: Path) -> list[str] | None:
    """Install hydra-core, omegaconf (and antlr4) and torch-fidelity from ``wheels`` when one is missing;
    returns the pip command that ran, or None when nothing was missing."""
    missing = [name for name in MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    if not wheels.is_dir():
        raise SystemExit(f"{', '.join(missing)} not installed and no wheels at {wheels}: run "
                         "../shared/tools/device-wheels on a machine with a registry and carry .device-wheels")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
               "--find-links", str(wheels), *PACKAGES]
    print("installing:", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    importlib.invalidate_caches()
    return command


def child_env() -> dict[str, str]:
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_gpu_tests(timeout: int) -> dict:
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "tests/test_gpu.py", "-q", "-p", "no:cacheprovider"]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        output = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else str(err.stdout or "")
        return {"command": " ".join(command), "ok": False, "error": f"timed out after {timeout} s",
                "output": output[-3000:]}
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return {"command": " ".join(command), "ok": result.returncode == 0, "returncode": result.returncode,
            "seconds": round(time.monotonic() - started, 1), "summary": lines[-1] if lines else "",
            **({} if result.returncode == 0 else {"output": (result.stdout + result.stderr)[-4000:]})}


def run_ddp(cpu: bool, timeout: int) -> dict:
    """trainer=ddp through train.py (it relaunches itself per rank), 5 batches: global_step 10 (D and G)."""
    batches = 5
    with tempfile.TemporaryDirectory(prefix="gpu_check_ddp_") as run_dir:
        command = [sys.executable, "train.py", "trainer=ddp", "trainer.max_epochs=1",
                   f"trainer.limit_train_batches={batches}", "trainer.enable_progress_bar=false", "logger=none",
                   "metrics=none", f"hydra.run.dir={run_dir}"]
        if cpu:
            command += ["trainer.accelerator=cpu", "trainer.devices=2"]
        started = time.monotonic()
        try:
            result = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"command": " ".join(command), "ok": False, "error": f"timed out after {timeout} s"}
        entry = {"command": " ".join(command), "returncode": result.returncode,
                 "seconds": round(time.monotonic() - started, 1),
                 "devices": 2 if cpu else torch.cuda.device_count()}
        ckpt = Path(run_dir) / "checkpoints" / "last.ckpt"
        if result.returncode == 0 and ckpt.is_file():
            entry["global_step"] = torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"]
        entry["ok"] = entry.get("global_step") == 2 * batches
        if not entry["ok"]:
            entry["output"] = result.stderr[-4000:]
        return entry


def run_throughput(settings, deadline: float, compile_ok: bool) -> tuple[list[dict], list[dict], list[dict]]:
    """(rows, skipped, errors) for every model and configuration: the eager ones model by model, then the
    compiled ones configuration by configuration (so a short budget still compiles each model once)."""
    import step_speed

    rows, skipped, errors, steps = [], [], [], {}  # steps per epoch: chosen at a model's first configuration
    plan = [(m, c) for m in MODELS for c in CONFIGS] + [(m, c) for c in COMPILE_CONFIGS for m in MODELS]
    for model, name in plan:
        config = step_speed.Config.parse(name)
        reason = step_speed.skip_reason(model, config, settings, list(step_speed.MODELS))
        if reason is None and config.compile and not compile_ok:
            reason = "tiny CPU mode: compilation takes minutes on a CPU (step_speed.py measures it)"
        if reason is None and time.monotonic() + RESERVE_S[config.compile] > deadline:
            reason = "time budget (--budget-s) reached before this configuration"
        if reason:
            skipped.append({"model": model, "config": name, "reason": reason})
            continue
        started = time.monotonic()
        try:
            row = step_speed.measure(model, config, settings, steps.get(model))
            steps[model] = row["steps"]
        except Exception as err:  # noqa: BLE001 - recorded, the other configurations still run
            errors.append({"model": model, "config": name, "error": f"{type(err).__name__}: {err}",
                           "traceback": traceback.format_exc()[-3000:]})
            print(f"{model:9s} {name:16s} failed: {type(err).__name__}: {err}", flush=True)
            if settings.device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        row = {"images_per_s": row["framework_images_per_s"], **row, "seconds": round(time.monotonic() - started, 1)}
        rows.append(row)
        print(f"{model:9s} {name:16s} {row['images_per_s']:10.1f} images/s (plain {row['plain_images_per_s']:.1f}), "
              f"{row['framework_ms']:.2f} ms/step, ratio {row['ratio']:.3f} [{row['ratio_min']:.3f}, "
              f"{row['ratio_max']:.3f}]", flush=True)
    return rows, skipped, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "logs" / "gpu_check.json")
    parser.add_argument("--tiny", action="store_true", help="the CPU mode (the default without a CUDA device)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="the whole script's time budget")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per epoch (default: per model, about 0.5 s of plain steps, at most 50; tiny: 2)")
    parser.add_argument("--rounds", type=int, default=None, help="measured rounds (default 3; tiny: 2)")
    parser.add_argument("--skip-tests", action="store_true", help="no pytest -m gpu")
    parser.add_argument("--ddp-cpu", action="store_true", help="tiny mode: also run the DDP part on 2 CPU processes")
    parser.add_argument("--wheels", type=Path, default=ROOT / ".device-wheels",
                        help="where hydra-core, omegaconf and torch-fidelity wheels are when they are not installed")
    args = parser.parse_args()
    started = time.monotonic()
    deadline = started + args.budget_s
    installed = ensure_packages(args.wheels)

    import lightning as L
    import step_speed

    warnings.filterwarnings("ignore")
    cuda = torch.cuda.is_available() and not args.tiny
    step_speed.set_threads(None, tiny=not cuda)
    settings = step_speed.Settings(steps=args.steps or (None if cuda else 2), rounds=args.rounds or (3 if cuda else 2),
                                   device=torch.device("cuda", 0) if cuda else torch.device("cpu"), tiny=not cuda,
                                   epoch_s=0.5, max_steps=50)
    report = {
        "benchmark": "gpu_check", "date": datetime.datetime.now().isoformat(timespec="seconds"), "tiny": not cuda,
        "device": {"type": settings.device.type, "name": torch.cuda.get_device_name(0) if cuda else platform.processor(),
                   "gpus": torch.cuda.device_count() if cuda else 0, "torch": torch.__version__,
                   "cuda": torch.version.cuda, "lightning": L.__version__, "python": platform.python_version(),
                   "threads": torch.get_num_threads()},
        "installed_wheels": " ".join(installed) if installed else None,
        "steps": settings.steps or f"per model, ~{settings.epoch_s} s", "rounds": settings.rounds,
        "budget_s": args.budget_s,
    }
    if not cuda:
        report["gpu_tests"] = {"skipped": "no CUDA device (tiny CPU mode)"}
    elif args.skip_tests:
        report["gpu_tests"] = {"skipped": "--skip-tests"}
    else:
        report["gpu_tests"] = run_gpu_tests(timeout=int(min(240, max(deadline - time.monotonic() - 200, 60))))
        print("gpu tests:", report["gpu_tests"].get("summary") or report["gpu_tests"].get("error"), flush=True)
    if cuda and torch.cuda.device_count() > 1:
        report["ddp"] = run_ddp(cpu=False, timeout=180)
    elif not cuda and args.ddp_cpu:
        report["ddp"] = run_ddp(cpu=True, timeout=300)
    else:
        report["ddp"] = {"skipped": f"{torch.cuda.device_count() if cuda else 0} GPU(s) visible: DDP needs 2 or more"
                                    + ("" if cuda else " (--ddp-cpu runs it on 2 CPU processes)")}
    if "skipped" not in report["ddp"]:
        print("ddp:", "ok" if report["ddp"]["ok"] else "FAILED", flush=True)
    rows, skipped, errors = run_throughput(settings, deadline, compile_ok=cuda)
    report |= {"throughput": rows, "skipped": skipped, "errors": errors,
               "seconds": round(time.monotonic() - started, 1)}
    bad = [row for row in rows if not (math.isfinite(row["images_per_s"]) and row["images_per_s"] > 0)]
    report["ok"] = (report["gpu_tests"].get("ok", True) and report["ddp"].get("ok", True) and not errors and not bad)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(rows)} configurations measured, {len(skipped)} skipped, {len(errors)} failed in "
          f"{report['seconds']} s; ok: {report['ok']}; written to {args.out}", flush=True)
    if not report["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
