"""benchmarks/mutation_score.py on a synthetic mutants/ folder: exit codes counted by mutmut's meaning,
equivalent mutants out of the denominator, per-module and total scores."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mutation_score.py"


def _load():
    spec = importlib.util.spec_from_file_location("mutation_score", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _meta(path: Path, codes: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))


def test_scores_from_synthetic_meta_files(tmp_path, capsys):
    ms = _load()
    mutants = tmp_path / "mutants"
    # a.py: 3 killed (1, 1, 3), 1 survived, 1 no tests (33), 1 timeout (-24), 1 segfault (-11), 1 unchecked
    _meta(mutants / "pkg" / "a.py.meta", {"pkg.a.x_f__mutmut_1": 1, "pkg.a.x_f__mutmut_2": 1, "pkg.a.x_f__mutmut_3": 3,
                                          "pkg.a.x_f__mutmut_4": 0, "pkg.a.x_f__mutmut_5": 33, "pkg.a.x_f__mutmut_6": -24,
                                          "pkg.a.x_f__mutmut_7": -11, "pkg.a.x_f__mutmut_8": None})
    # b.py: 1 killed, 1 survived that is listed as equivalent
    _meta(mutants / "pkg" / "sub" / "b.py.meta", {"pkg.sub.b.x_g__mutmut_1": 1, "pkg.sub.b.x_g__mutmut_2": 0})
    _meta(mutants / "pkg" / "__init__.py.meta", {})  # no mutants: no row
    equivalent = tmp_path / "equivalent.txt"
    equivalent.write_text("# comment line\n\npkg.sub.b.x_g__mutmut_2  # 0.5 vs 0.50: same float\n"
                          "pkg.gone.x_h__mutmut_9 # stale entry\n")
    assert ms.read_equivalent(equivalent) == {"pkg.sub.b.x_g__mutmut_2": "0.5 vs 0.50: same float",
                                              "pkg.gone.x_h__mutmut_9": "stale entry"}
    assert ms.main(["--mutants", str(mutants), "--equivalent", str(equivalent)]) == 0
    out = capsys.readouterr()
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert [r["module"] for r in rows] == ["pkg/a.py", "pkg/sub/b.py", "TOTAL"]
    a, b, total = rows
    assert {k: a[k] for k in ms.FIELDS} == {"mutants": 8, "killed": 3, "survived": 1, "no_tests": 1, "timeouts": 1,
                                             "other": 1, "not_checked": 1, "equivalent": 0}
    assert a["score"] == pytest.approx(3 / 8, abs=1e-4)
    assert (b["mutants"], b["killed"], b["survived"], b["equivalent"], b["score"]) == (2, 1, 1, 1, 1.0)
    assert (total["mutants"], total["killed"], total["equivalent"]) == (10, 4, 1)
    assert total["score"] == pytest.approx(4 / 9, abs=1e-4)
    assert "pkg.gone.x_h__mutmut_9 is listed as equivalent but is no mutant" in out.err


def test_nothing_left_to_kill_has_no_score_and_a_missing_folder_fails(tmp_path):
    ms = _load()
    assert ms.score({"mutants": 2, "equivalent": 2, "killed": 0}) is None
    assert ms.read_equivalent(tmp_path / "absent.txt") == {}
    assert ms.main(["--mutants", str(tmp_path / "absent")]) == 1
