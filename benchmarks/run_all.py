"""``make bench``: every benchmark script, one after the other (they must not share the CPU), collected into
``benchmarks/results.json`` with the machine, versions and date, and rendered as the "Latest results"
tables of ``benchmarks/README.md`` (between its ``results`` markers; the prose sections stay as written).

    python benchmarks/run_all.py [--only overhead memory ...] [--no-readme]
    python benchmarks/run_all.py --render      # only re-render the README tables from results.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPTS = ("overhead", "fid_speed", "cyclegan_step", "step_speed", "memory", "diffaugment", "vae_vs_gan", "toy2d")
START, END = "<!-- results:start -->", "<!-- results:end -->"
CONTEXT_KEYS = {"benchmark", "torch", "lightning", "threads", "machine"}  # shown once, in the header
# row kinds with more keys than a table can show: the columns of their README table, in this order
# (results.json keeps every key; a column no row has is left out)
COLUMNS = {
    "step_speed": ("model", "config", "device", "gpu", "image_size", "batch_size", "batches_per_step", "steps",
                   "framework_ms", "plain_ms", "ratio", "ratio_min", "ratio_max", "framework_cpu_ms", "plain_cpu_ms",
                   "framework_images_per_s", "plain_images_per_s", "compiled_graphs", "graph_breaks", "load_avg"),
}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    import torch

    info["torch_threads"] = torch.get_num_threads()
    info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def versions() -> dict:
    names = ("torch", "torchvision", "lightning", "hydra-core", "torchmetrics", "wandb")
    return {name: metadata.version(name) for name in names}


def run(script: str) -> dict:
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(HERE / f"{script}.py")], cwd=ROOT, capture_output=True, text=True)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    entry = {"date": datetime.date.today().isoformat(), "seconds": round(time.monotonic() - started, 1),
             "returncode": result.returncode, "rows": rows}
    if result.returncode:
        entry["error"] = result.stderr[-2000:]
    print(f"{script}: {len(rows)} rows in {entry['seconds']} s (exit {result.returncode})", flush=True)
    return entry


def table(rows: list[dict], columns: tuple[str, ...] | None = None) -> str:
    keys = [k for k in dict.fromkeys(k for row in rows for k in row) if k not in CONTEXT_KEYS]
    if columns:
        keys = [k for k in columns if k in keys and any(row.get(k) is not None for row in rows)]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def render(results: dict) -> str:
    m, v = results["machine"], results["versions"]
    parts = [START, f"Measured {results['date']} by `make bench` on {m['cores']} cores ({m['cpu']}), "
             f"{m['torch_threads']} torch threads, GPU: {m['gpu'] or 'none'}; "
             + ", ".join(f"{k} {x}" for k, x in v.items()) + ". Raw figures: `benchmarks/results.json`."]
    for script, entry in results["benchmarks"].items():
        parts.append(f"### `{script}.py` ({entry['date']}, {entry['seconds']} s)")
        kinds = dict.fromkeys(row.get("benchmark", script) for row in entry["rows"])
        for kind in kinds:  # one table per kind of row (e.g. per-run rows, then the summary)
            rows = [row for row in entry["rows"] if row.get("benchmark", script) == kind]
            parts.append((f"`{kind}`:\n\n" if len(kinds) > 1 else "") + table(rows, COLUMNS.get(kind)))
        if not entry["rows"]:
            parts.append(f"(failed: exit {entry['returncode']})")
    return "\n\n".join(parts + [END])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, default=list(SCRIPTS))
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--render", action="store_true", help="only rewrite the README tables from results.json")
    args = parser.parse_args()
    path = HERE / "results.json"
    previous = json.loads(path.read_text()) if path.exists() else {"benchmarks": {}}
    benchmarks = dict(previous.get("benchmarks", {}))
    if args.render:
        return write_readme(previous)
    for script in args.only:  # saved after every script: an interrupted run keeps what it measured
        benchmarks[script] = run(script)
        save(path, benchmarks, readme=not args.no_readme)
    if any(benchmarks[script]["returncode"] for script in args.only):
        raise SystemExit(1)


def save(path: Path, benchmarks: dict, readme: bool) -> None:
    """results.json (earlier entries of scripts not rerun are kept, with their own dates) and the README."""
    results = {"date": datetime.date.today().isoformat(), "machine": machine(), "versions": versions(),
               "benchmarks": {s: benchmarks[s] for s in SCRIPTS if s in benchmarks}}
    path.write_text(json.dumps(results, indent=2) + "\n")
    if readme:
        write_readme(results)


def write_readme(results: dict) -> None:
    """Replace the README's text between the results markers (or append it) with ``render(results)``."""
    text = (HERE / "README.md").read_text()
    head, _, rest = text.partition(START)
    tail = rest.partition(END)[2] if rest else ""
    (HERE / "README.md").write_text(head.rstrip() + "\n\n" + render(results) + tail)


if __name__ == "__main__":
    main()
