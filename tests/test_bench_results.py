"""``benchmarks/run_all.py``: results.json rendered into the README's tables, prose left as written."""

from __future__ import annotations

import importlib.util

from tests.helpers import ROOT


def load_run_all():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RESULTS = {
    "date": "2026-12-01",
    "machine": {"cores": 2, "cpu": "Test CPU", "torch_threads": 2, "gpu": None},
    "versions": {"torch": "2.14.1"},
    "benchmarks": {
        "diffaugment": {"date": "2026-12-01", "seconds": 5.0, "returncode": 0, "rows": [
            {"benchmark": "diffaugment_run", "seed": 0, "val/fid": 90.0, "torch": "2.14.1"},
            {"benchmark": "diffaugment_run", "seed": 1, "val/fid": 100.0, "torch": "2.14.1"},
            {"benchmark": "diffaugment", "fid_without": 95.0, "ratio": 1.1}]},
        "memory": {"date": "2026-11-30", "seconds": 1.0, "returncode": 1, "rows": []},
    },
}


def test_render_gives_one_table_per_row_kind_and_marks_failures():
    text = load_run_all().render(RESULTS)
    assert "2 cores (Test CPU)" in text and "GPU: none" in text and "torch 2.14.1" in text
    assert "| seed | val/fid |\n|---|---|\n| 0 | 90.0 |\n| 1 | 100.0 |" in text  # context keys left out
    assert "| fid_without | ratio |\n|---|---|\n| 95.0 | 1.1 |" in text
    assert "### `memory.py` (2026-11-30, 1.0 s)\n\n(failed: exit 1)" in text


def test_readme_tables_are_replaced_between_the_markers_only(tmp_path, monkeypatch):
    run_all = load_run_all()
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\nprose\n\n{run_all.START}\nold table\n{run_all.END}\n\nafter\n")
    run_all.write_readme(RESULTS)
    text = readme.read_text()
    assert text.startswith("# Benchmarks\n\nprose\n\n") and text.endswith(f"{run_all.END}\n\nafter\n")
    assert "old table" not in text and text.count(run_all.START) == 1 and "| 95.0 | 1.1 |" in text


def test_step_speed_rows_render_their_chosen_columns_and_skipped_rows_apart():
    run_all = load_run_all()
    assert "step_speed" in run_all.SCRIPTS
    row = {"benchmark": "step_speed", "model": "dcgan", "config": "bf16+cl", "device": "cpu", "gpu": None,
           "precision": "bf16-mixed", "framework_ms": 12.5, "framework_ms_min": 12.0, "plain_ms": 12.0,
           "ratio": 1.04, "ratio_min": 1.01, "ratio_max": 1.09, "torch": "2.14.1"}
    skipped = {"benchmark": "step_speed_skipped", "model": "wgan_gp", "config": "fp32+compile", "reason": "double backward"}
    results = {**RESULTS, "benchmarks": {"step_speed": {"date": "2026-12-02", "seconds": 9.0, "returncode": 0,
                                                        "rows": [row, skipped]}}}
    text = run_all.render(results)
    # the chosen columns in their order; keys kept only in results.json (precision, min/max ms) and columns
    # no row fills (gpu on a CPU) are left out
    assert ("| model | config | device | framework_ms | plain_ms | ratio | ratio_min | ratio_max |\n|---|---|---|---|---|---|---|---|\n"
            "| dcgan | bf16+cl | cpu | 12.5 | 12.0 | 1.04 | 1.01 | 1.09 |") in text
    assert "`step_speed_skipped`:\n\n| model | config | reason |\n|---|---|---|\n| wgan_gp | fp32+compile | double backward |" in text
