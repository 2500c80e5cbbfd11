"""The gallery: every model trained on real data with a stated budget, its picture and its numbers.

For each entry (``ENTRIES``): ``python train.py <overrides> hydra.run.dir=<runs>/<name> ckpt_path=auto`` as
a user would (so an interrupted entry resumes from its last checkpoint at the next call), then the entry's
``evaluate.py`` tasks on its checkpoint, then its pictures copied into ``docs/gallery/`` (PNG, or JPEG where
a PNG would pass ``MAX_BYTES``), then one row per entry in ``docs/gallery/README.md`` and
``docs/gallery/results.json``. The wall time is the training time Lightning's Timer saved in the last
checkpoint, over every sitting (a sitting killed after its last checkpoint adds only what the next one did
not redo); runs begun without the Timer add up the gallery's own sitting times. A finished entry is skipped (``--force``
continues it, e.g. with a larger ``trainer.max_epochs``). Entries never run keep a "not run yet" row. A row's
``note`` in results.json (written by hand after looking at the picture, e.g. "not yet recognisable") is kept
when the entry runs again and printed under the table.

    python benchmarks/gallery.py [--only dcgan_mnist vae_mnist] [--list] [--force]
        [--data-root ../shared/data] [--runs logs/gallery] [--out docs/gallery] [-- extra overrides]

``make gallery`` runs every entry (hours on 2 CPU cores; the budgets are in ``ENTRIES``). Two gallery
processes may run side by side on different entries (``--only``; one core each with ``OMP_NUM_THREADS=1``):
each adds its row under a lock on ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import FileLock
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 200_000
DEFAULT_DATA = ROOT.parent / "shared" / "data"
# Lightning's Timer without a duration: it stops nothing, and every checkpoint carries the training time
# behind it, restored on resume; so a run's time over sittings survives sittings that were killed
TIMER = "lightning.pytorch.callbacks.Timer"


@dataclass(frozen=True)
class Picture:
    """One published image: the newest file matching ``pattern`` in the run folder (``samples/epoch_*.png``)
    or in an evaluate task's output folder (``eval/<task>/...``), saved as ``docs/gallery/<name>``."""

    name: str
    pattern: str
    caption: str


@dataclass(frozen=True)
class Task:
    """``python evaluate.py task=<task> ckpt=<run>/checkpoints/last.ckpt out_dir=<run>/eval/<label>``."""

    label: str
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    name: str
    model: str
    data: str
    resolution: str
    overrides: tuple[str, ...]
    pictures: tuple[Picture, ...]
    tasks: tuple[Task, ...] = ()
    metrics: tuple[str, ...] = ("val/fid", "val/kid", "val/is", "val/precision", "val/recall", "val/classes_covered")

    def train_command(self, run_dir: Path, extra: list[str]) -> list[str]:
        return [sys.executable, "train.py", *self.overrides, "logger=csv", "trainer.enable_progress_bar=false",
                f"+callbacks.timer._target_={TIMER}", f"hydra.run.dir={run_dir}", "ckpt_path=auto", *extra]


def samples(name: str, caption: str, prefix: str = "") -> Picture:
    return Picture(f"{name}.png", f"samples/{prefix}epoch_[0-9][0-9][0-9].png", caption)


TOY_METRICS = ("val/modes_covered", "val/high_quality_fraction")
# CPU-sized StyleGAN widths, the same in both generations (as benchmarks/stylegan_compare.py): 256, 128, 64
# and 32 feature maps at 4, 8, 16 and 32 px; at the models' own defaults a StyleGAN2 iteration costs ~5x more
NARROW_STYLEGAN = ("model.generator.base_channels=32", "model.generator.max_channels=256")
NARROW_STYLEGAN2 = ("model.generator.channel_base=1024", "model.generator.channel_max=256")
# CycleGAN's generators and discriminators at half the reference width (32 base channels, ~1/4 of the cost):
# ~1.2 s an iteration on 2 threads (1.9 on one) at 128 px, 1,334 iterations a pass. The reference's schedule
# trains its last epoch at rate 0, so the entry counts epochs of a quarter of the data (333 iterations):
# n_epochs 12 + n_epochs_decay 2 = 11 at the full rate, then 2/3, 1/3 and 0; 3.5 passes over the data in all
NARROW_CYCLEGAN = ("model.generator_ab.base_channels=32", "model.discriminator_a.base_channels=32")

ENTRIES: tuple[Entry, ...] = (
    Entry("gan_mnist", "gan", "mnist", "32 px", ("model=gan", "data=mnist", "trainer.max_epochs=20"),
          (samples("gan_mnist", "samples from a fixed z"),)),
    Entry("dcgan_mnist", "dcgan", "mnist", "32 px", ("model=dcgan", "data=mnist", "trainer.max_epochs=5"),
          (samples("dcgan_mnist", "samples from a fixed z"),)),
    Entry("dcgan_wgan_gp_mnist", "dcgan + wgan_gp", "mnist", "32 px",
          ("model=dcgan", "loss=wgan_gp", "data=mnist", "trainer.max_epochs=10"),
          (samples("dcgan_wgan_gp_mnist", "samples from a fixed z"),)),
    Entry("dcgan_wgan_clip_mnist", "dcgan + wgan_clip", "mnist", "32 px",
          ("model=dcgan", "loss=wgan_clip", "data=mnist", "trainer.max_epochs=10"),
          (samples("dcgan_wgan_clip_mnist", "samples from a fixed z"),)),
    Entry("cgan_mnist", "cgan", "mnist", "32 px", ("model=cgan", "data=mnist", "trainer.max_epochs=5"),
          (samples("cgan_mnist", "one row per digit class 0-9"),)),
    Entry("infogan_mnist", "infogan", "mnist", "32 px", ("model=infogan", "data=mnist", "trainer.max_epochs=5"),
          (samples("infogan_mnist", "samples from fixed z and codes"),
           Picture("infogan_mnist_traversal.png", "eval/traversal/*categorical*.png",
                   "the categorical code traversed: one row per code value, one fixed noise per column"),
           Picture("infogan_mnist_continuous.png", "eval/traversal/traversal_continuous_0.png",
                   "the first continuous code swept over [-2, 2] (columns), one category per row")),
          (Task("traversal", ("task=latent_traversal",)),)),
    Entry("vae_mnist", "vae", "mnist", "32 px", ("model=vae", "data=mnist", "trainer.max_epochs=5"),
          (samples("vae_mnist", "samples from the prior"),
           samples("vae_mnist_reconstructions", "validation digits over their reconstructions", "reconstructions_"))),
    Entry("dcgan_celeba64", "dcgan", "celeba (64x64 subset)", "64 px",
          ("model=dcgan", "data=celeba", "data.image_size=64", "trainer.max_epochs=12"),
          (samples("dcgan_celeba64", "samples from a fixed z"),)),
    Entry("stylegan_celeba32", "stylegan", "celeba (64x64 subset)", "32 px",
          ("model=stylegan", "data=celeba", "data.image_size=32", "data.batch_size=16", *NARROW_STYLEGAN,
           "model.fade_images=3000", "model.stable_images=3000", "trainer.max_epochs=10"),
          (samples("stylegan_celeba32", "G_ema samples from a fixed z"),
           Picture("stylegan_celeba32_mixing.png", "eval/mixing/style_mixing_coarse.png", "style mixing: coarse styles from B"),
           Picture("stylegan_celeba32_truncation.png", "eval/truncation/truncation_psi_0.5.png", "truncated in W, psi 0.5"),
           Picture("stylegan_celeba32_interpolation.png", "eval/interpolate/*.png", "linear interpolation in W"),
           Picture("stylegan_celeba32_edit.png", "eval/edit/*.png", "classifier-gradient edit toward Smiling"),
           Picture("stylegan_celeba32_bias_audit.png", "eval/bias_audit/*.png", "bias audit of the Smiling edit")),
          (Task("mixing", ("task=style_mixing",)), Task("truncation", ("task=truncation", "psis=[0.5,1.0]")),
           Task("interpolate", ("task=interpolate", "space=w", "method=linear")),
           Task("edit", ("task=edit", "attribute=Smiling", "num_images=8")),
           Task("bias_audit", ("task=bias_audit", "attribute=Smiling")))),
    Entry("stylegan2_celeba32", "stylegan2 + ADA", "celeba (64x64 subset)", "32 px",
          ("model=stylegan2", "data=celeba", "data.image_size=32", "data.batch_size=16", *NARROW_STYLEGAN2,
           "trainer.max_epochs=5"),
          (samples("stylegan2_celeba32", "G_ema samples from a fixed z"),
           Picture("stylegan2_celeba32_mixing.png", "eval/mixing/style_mixing_coarse.png", "style mixing: coarse styles from B"),
           Picture("stylegan2_celeba32_truncation.png", "eval/truncation/truncation_psi_0.5.png", "truncated in W, psi 0.5"),
           Picture("stylegan2_celeba32_noise.png", "eval/noise/noise_variation.png", "noise draws and their per-pixel std")),
          (Task("mixing", ("task=style_mixing",)), Task("truncation", ("task=truncation", "psis=[0.5,1.0]")),
           Task("noise", ("task=noise",)))),
    # 6 passes over the 400 training pairs in 24 epochs of a quarter (100 iterations, ~0.9 s each on one core), so
    # that the reference schedule's epoch at rate 0 is 100 iterations: 19 at 2e-4, then 0.8, 0.6, 0.4, 0.2, 0 times
    Entry("pix2pix_facades128", "pix2pix", "facades", "128 px",
          ("model=pix2pix", "data=facades", "data.image_size=128", "trainer.limit_train_batches=0.25",
           "model.n_epochs=20", "model.n_epochs_decay=4"),
          (samples("pix2pix_facades128", "test label map | output | photo", "a2b_"),),
          metrics=("val/l1", "val/psnr", "val/ssim", "val/fid")),
    Entry("cyclegan_h2z128", "cyclegan (32 base channels)", "horse2zebra", "128 px",
          ("model=cyclegan", "data=horse2zebra", "data.image_size=128", *NARROW_CYCLEGAN,
           "trainer.limit_train_batches=0.25", "model.n_epochs=12", "model.n_epochs_decay=2"),
          (samples("cyclegan_h2z128", "test horse | zebra | reconstruction | identity", "a2b_"),
           samples("cyclegan_h2z128_b2a", "test zebra | horse | reconstruction | identity", "b2a_")),
          metrics=("val/fid_a2b", "val/domain_accuracy_a2b", "val/fid_b2a", "val/domain_accuracy_b2a")),
    *(Entry(f"toy2d_{loss}", loss, "toy2d (8 Gaussians)", "2-D", (f"experiment=toy2d_{loss}",),
            (samples(f"toy2d_{loss}", "generated points over the 8 modes"),), metrics=TOY_METRICS)
      for loss in ("gan", "gan_r1", "lsgan", "hinge", "wgan_gp", "wgan_clip")),
)


def machine() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    return f"{os.cpu_count()} CPU cores ({cpu}), {torch.get_num_threads()} torch threads"


def run_logged(command: list[str], log: Path, data_root: Path | None) -> None:
    """Runs ``command`` in the project root (datasets under ``data_root`` through ``$GAN_DATA_DIR``, which
    train.py's and evaluate.py's ``paths.data_dir`` read), its output appended to ``log``."""
    env = os.environ | ({"GAN_DATA_DIR": str(data_root)} if data_root else {})
    with log.open("a") as out:
        out.write(f"\n$ {shlex.join(command)}\n")
        out.flush()
        proc = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed (exit {proc.returncode}); its output: {log}")


def training_progress(run_dir: Path) -> dict:
    """Epochs and training batches completed, read from the run's last checkpoint (Lightning's loop state),
    and the training time behind it (the Timer's state; None for a run begun without the Timer)."""
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    batches = ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"]
    timer = ckpt.get("callbacks", {}).get("Timer")
    seconds = timer["time_elapsed"]["train"] if timer else None
    return {"epochs": ckpt["epoch"] + 1, "batches": batches, "checkpoint_train_seconds": seconds}


def publish(picture: Picture, run_dir: Path, out_dir: Path) -> Path:
    """The newest file matching the picture's pattern, saved under ``out_dir``: PNG (grayscale when it is
    gray, a 256-colour palette when that keeps it under ``MAX_BYTES``), else the largest JPEG that fits."""
    found = sorted(run_dir.glob(picture.pattern))
    if not found:
        raise FileNotFoundError(f"{picture.name}: nothing matches {run_dir / picture.pattern}")
    image = Image.open(found[-1]).convert("RGB")
    target = out_dir / picture.name
    gray = image.convert("L")
    if Image.merge("RGB", (gray, gray, gray)).tobytes() == image.tobytes():
        image = gray
    image.save(target, optimize=True)
    if target.stat().st_size > MAX_BYTES and image.mode == "RGB":
        image.quantize(256).save(target, optimize=True)
    if target.stat().st_size <= MAX_BYTES:
        return target
    target.unlink()
    target = target.with_suffix(".jpg")
    image = image.convert("RGB")
    while True:  # JPEG at falling quality, then at half the size, until it fits
        for quality in (90, 80, 70):
            image.save(target, quality=quality, optimize=True)
            if target.stat().st_size <= MAX_BYTES:
                return target
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)


def state_path(run_dir: Path) -> Path:
    return run_dir / "gallery_state.json"


def load_state(run_dir: Path) -> dict:
    path = state_path(run_dir)
    return json.loads(path.read_text()) if path.is_file() else {"train_seconds": 0.0, "sittings": 0}


def save_state(run_dir: Path, state: dict) -> None:
    tmp = state_path(run_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(state_path(run_dir))


def run_entry(entry: Entry, runs: Path, out_dir: Path, data_root: Path | None, extra: list[str]) -> dict:
    """Trains (or resumes) the entry, runs its tasks, publishes its pictures: its row of the table."""
    run_dir = runs / entry.name
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "gallery.log"
    state = load_state(run_dir)
    if not state.get("trained"):
        state["sittings"] += 1
        start = time.perf_counter()
        try:  # an interrupted sitting's time counts too: the next one resumes from its checkpoint
            run_logged(entry.train_command(run_dir, extra), log, data_root)
            state["trained"] = True
        finally:
            state["train_seconds"] += time.perf_counter() - start
            save_state(run_dir, state)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    for task in entry.tasks:
        run_logged([sys.executable, "evaluate.py", *task.overrides, f"ckpt={ckpt}",
                    f"out_dir={run_dir / 'eval' / task.label}", f"out={run_dir / 'eval' / (task.label + '.json')}",
                    f"hydra.run.dir={run_dir / 'eval' / task.label}"], log, data_root)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    progress = training_progress(run_dir)
    batch_size = configured_batch_size(run_dir)
    return {
        "name": entry.name, "model": entry.model, "data": entry.data, "resolution": entry.resolution,
        "command": command_text(entry, extra),
        "epochs": progress["epochs"], "batches": progress["batches"], "images_seen": progress["batches"] * batch_size,
        "train_seconds": round(progress["checkpoint_train_seconds"] or state["train_seconds"]),
        "sittings": state["sittings"], "machine": machine(),
        "metrics": {k: metrics[k] for k in entry.metrics if k in metrics},
        "features": metrics.get("val/features"), "protocol": metrics.get("val/protocol"),
        "num_fake": metrics.get("val/num_fake"),
        "pictures": [{"file": publish(p, run_dir, out_dir).name, "caption": p.caption} for p in entry.pictures],
        "date": time.strftime("%Y-%m-%d"),
    }


def configured_batch_size(run_dir: Path) -> int:
    """``data.batch_size`` of the run's resolved config (Hydra's ``.hydra/config.yaml``)."""
    from omegaconf import OmegaConf

    return int(OmegaConf.load(run_dir / ".hydra" / "config.yaml").data.batch_size)


def command_text(entry: Entry, extra: list[str]) -> str:
    return shlex.join(["python", "train.py", *entry.overrides, *extra])


def format_metrics(row: dict) -> str:
    parts = [f"{k.removeprefix('val/')} {v:.3g}" if isinstance(v, float) else f"{k.removeprefix('val/')} {v}"
             for k, v in row["metrics"].items()]
    return ", ".join(parts) or "-"


def read_rows(results_path: Path) -> dict[str, dict]:
    """``results.json``: one row per entry run so far, by name."""
    return json.loads(results_path.read_text()) if results_path.is_file() else {}


def record_row(row: dict, out_dir: Path) -> None:
    """Adds ``row`` to ``results.json`` (keeping its hand-written note) and rewrites the table. The file is
    read here, after hours of training, and under a lock: other gallery processes (``--only`` another entry)
    and hand-written notes may have changed it meanwhile."""
    results_path = out_dir / "results.json"
    with FileLock(out_dir / "results.json.lock"):
        rows = read_rows(results_path)
        rows[row["name"]] = row | {"note": rows.get(row["name"], {}).get("note", "")}
        results_path.write_text(json.dumps(rows, indent=1) + "\n")
        (out_dir / "README.md").write_text(render_table(rows))


def render_table(rows: dict[str, dict]) -> str:
    """``docs/gallery/README.md``: one row per entry, in ``ENTRIES`` order; entries not run yet say so."""
    lines = [
        "# The gallery", "",
        "[README](../../README.md) · [benchmarks](../../benchmarks/README.md)", "",
        "Every model trained on real data with the budget in its row, by `make gallery` "
        "(`python benchmarks/gallery.py`, one entry: `--only NAME`). Each picture is the run's own output "
        "(its last sample grid, or an `evaluate.py` task on its last checkpoint), nothing picked among runs. "
        "Metrics are the run's final `metrics.json`: on the image datasets the feature extractor is named in "
        "the features column (without InceptionV3 weights the project's own classifier of the dataset, so "
        "the FIDs do not compare with published ones); toy2d uses the VEEGAN/PacGAN protocol "
        "(benchmarks/README.md). Every entry runs with train.py's default seed (42); the toy2d study over "
        "seeds 0-2 and every setting tried is in benchmarks/README.md. Entries not run yet list their "
        "command.", "",
        "| entry | model | data | res. | budget | wall time (machine) | metrics | features | pictures | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in ENTRIES:
        row = rows.get(entry.name)
        if row is None:
            lines.append(f"| {entry.name} | {entry.model} | {entry.data} | {entry.resolution} | not run yet | | | | "
                         f"| `{command_text(entry, [])}` |")
            continue
        pictures = " ".join(f"[{p['caption']}]({p['file']})" for p in row["pictures"])
        budget = f"{row['epochs']} epochs, {row['batches']:,} batches, {row['images_seen']:,} images"
        minutes = "not recorded (see the note)" if row["train_seconds"] is None else f"{row['train_seconds'] / 60:.1f} min"
        wall = f"{minutes} in {row['sittings']} sitting(s), {row['date']} ({row['machine']})"
        lines.append(f"| {entry.name} | {entry.model} | {entry.data} | {entry.resolution} | {budget} | {wall} | "
                     f"{format_metrics(row)} | {row['features'] or '-'} | {pictures} | `{row['command']}` |")
    notes = [f"- **{name}**: {row['note']}" for name, row in rows.items() if row.get("note")]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", help="entry names (default: all)")
    parser.add_argument("--list", action="store_true", help="print the entries and their commands, run nothing")
    parser.add_argument("--force", action="store_true",
                        help="run finished entries' training again: it resumes from their checkpoint, so give a "
                             "larger budget in the extra overrides (delete <runs>/<name> to start over)")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else None,
                        help="where the datasets are (default ../shared/data if present, else data.root's default)")
    parser.add_argument("--runs", type=Path, default=ROOT / "logs" / "gallery")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery")
    parser.add_argument("--table-only", action="store_true", help="rewrite README.md from results.json, run nothing")
    parser.add_argument("extra", nargs="*", help="Hydra overrides added to every entry's training command")
    args = parser.parse_args()
    names = {e.name for e in ENTRIES}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        parser.error(f"unknown entries {unknown}; the entries are: {', '.join(e.name for e in ENTRIES)}")
    chosen = [e for e in ENTRIES if not args.only or e.name in args.only]
    if args.list:
        for entry in chosen:
            print(f"{entry.name}: {command_text(entry, args.extra)}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    if args.table_only:
        (args.out / "README.md").write_text(render_table(read_rows(results_path)))
        return
    for entry in chosen:
        if args.force:
            state = load_state(args.runs / entry.name) | {"trained": False}
            (args.runs / entry.name).mkdir(parents=True, exist_ok=True)
            save_state(args.runs / entry.name, state)
        row = run_entry(entry, args.runs, args.out, args.data_root, args.extra)
        record_row(row, args.out)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
