"""benchmarks/step_speed.py and benchmarks/gpu_check.py in their tiny CPU modes, as subprocesses: every
configuration they list is measured with finite positive times and images/s, so the GPU machine's prepared
script (``make gpu-check``) cannot rot on machines without a GPU."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tests.helpers import ROOT

STEP_SPEED_MODELS = ("gan", "dcgan", "wgan_gp", "cgan", "infogan", "stylegan", "pix2pix", "cyclegan")


def run_script(*args: str, timeout: int = 600) -> list[dict]:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def check_measured(row: dict) -> None:
    for key in ("framework_ms", "plain_ms", "framework_cpu_ms", "plain_cpu_ms", "ratio", "framework_images_per_s",
                "plain_images_per_s"):
        assert positive(row[key]), (row["model"], row["config"], key, row[key])
    assert row["framework_ms_min"] <= row["framework_ms"] <= row["framework_ms_max"]
    assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]


def test_step_speed_tiny_measures_every_model_in_every_listed_configuration():
    rows = run_script("benchmarks/step_speed.py", "--tiny")
    assert [(r["model"], r["config"]) for r in rows] == [(m, c) for m in STEP_SPEED_MODELS for c in ("fp32", "bf16+cl")]
    for row in rows:
        assert row["benchmark"] == "step_speed" and row["steps"] == 2 and row["device"] == "cpu"
        check_measured(row)
    assert {r["model"]: r["batches_per_step"] for r in rows}["wgan_gp"] == 5  # 5 critic batches per G step
    assert all(r["channels_last"] and r["precision"] == "bf16-mixed" for r in rows if r["config"] == "bf16+cl")


def test_step_speed_says_where_and_why_compile_is_skipped():
    rows = run_script("benchmarks/step_speed.py", "--tiny", "--models", "wgan_gp", "stylegan", "gan",
                      "--configs", "fp32+compile")
    assert [r["benchmark"] for r in rows] == ["step_speed_skipped"] * 3
    reasons = {r["model"]: r["reason"] for r in rows}
    assert "double backward" in reasons["wgan_gp"] and "double backward" in reasons["stylegan"]
    assert "--compile-models" in reasons["gan"]  # on a CPU only dcgan is compiled unless asked


@pytest.mark.slow
def test_step_speed_compiles_dcgan_on_both_sides():
    (row,) = run_script("benchmarks/step_speed.py", "--tiny", "--models", "dcgan", "--configs", "fp32+compile")
    check_measured(row)
    assert row["compile"] and row["compiled_graphs"] > 0


def test_gpu_check_tiny_writes_finite_throughput_for_every_configuration(tmp_path):
    out = tmp_path / "gpu_check.json"
    run_script("benchmarks/gpu_check.py", "--tiny", "--out", str(out))
    report = json.loads(out.read_text())
    assert report["ok"] and report["tiny"] and not report["errors"]
    assert "skipped" in report["gpu_tests"] and "skipped" in report["ddp"]
    models, configs = ("dcgan", "wgan_gp", "cyclegan", "stylegan"), ("fp32", "fp32+cl", "bf16", "bf16+cl", "fp16", "fp16+cl")
    assert [(r["model"], r["config"]) for r in report["throughput"]] == [(m, c) for m in models for c in configs]
    for row in report["throughput"]:
        assert positive(row["images_per_s"]) and row["images_per_s"] == row["framework_images_per_s"]
        check_measured(row)
    # fp16 on a CPU is the real fp16 autocast with a GradScaler (trainer=fp16_cpu), not Lightning's bf16
    assert all(r["loss_scaler"] and r["trainer_precision"] == "16-mixed" for r in report["throughput"] if r["config"].startswith("fp16"))
    assert not any(r["loss_scaler"] for r in report["throughput"] if not r["config"].startswith("fp16"))
    compiled = [s for s in report["skipped"] if "compile" in s["config"]]
    assert len(compiled) == 12 and all(s["reason"] for s in compiled)


def test_step_speed_chooses_the_steps_per_epoch_from_a_timed_plain_step():
    rows = run_script("benchmarks/step_speed.py", "--tiny", "--models", "dcgan", "--configs", "fp32", "fp32+cl",
                      "--steps", "0", "--epoch-s", "0.05", "--max-steps", "4", "--rounds", "1")
    assert len(rows) == 2 and 1 <= rows[0]["steps"] <= 4 and rows[1]["steps"] == rows[0]["steps"]  # kept per model
    for row in rows:
        check_measured(row)
