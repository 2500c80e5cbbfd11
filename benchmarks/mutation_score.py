"""Mutation score per module from a finished ``mutmut run`` (``make mutation``).

Reads ``mutants/**/*.py.meta`` (mutmut 3's per-file results: ``exit_code_by_key`` maps each mutant's name
to its test run's exit code) and prints one JSON line per module, then one for the total:

    {"module": ..., "mutants": N, "killed": K, "survived": S, "no_tests": T, "timeouts": O, "other": X,
     "not_checked": C, "equivalent": E, "score": K / (N - E)}

Exit codes as mutmut's ``status_by_exit_code``: 1 and 3 killed, 0 survived, 5 and 33 no tests, 36 and
+-24 / 152 / 255 timeouts (CPU limit), None not yet checked; anything else (segfaults, suspicious, skipped,
caught by a type check) counts as "other". ``equivalent`` counts the mutants listed in the equivalence file
(``benchmarks/mutation_equivalent.txt``: one mutant name per line, the reason after ``#``); they leave the
denominator, whatever their exit code. A timeout is not counted as killed here.

    python benchmarks/mutation_score.py [--mutants mutants] [--equivalent benchmarks/mutation_equivalent.txt]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILLED, SURVIVED, NO_TESTS = {1, 3}, {0}, {5, 33}
TIMEOUTS = {36, 24, -24, 152, 255}
FIELDS = ("mutants", "killed", "survived", "no_tests", "timeouts", "other", "not_checked", "equivalent")


def read_equivalent(path: Path) -> dict[str, str]:
    """Mutant name -> reason, from lines ``name  # reason`` (blank lines and ``#`` lines skipped)."""
    listed = {}
    if not path.is_file():
        return listed
    for line in path.read_text().splitlines():
        name, _, reason = line.partition("#")
        name = name.strip()
        if name:
            listed[name] = reason.strip()
    return listed


def module_of(meta: Path, mutants_dir: Path) -> str:
    """mutants/gan_experiments/losses/adversarial.py.meta -> gan_experiments/losses/adversarial.py"""
    return meta.relative_to(mutants_dir).as_posix().removesuffix(".meta")


def count(exit_codes: dict[str, int | None], equivalent: dict[str, str]) -> dict:
    row = dict.fromkeys(FIELDS, 0)
    for name, code in exit_codes.items():
        row["mutants"] += 1
        if name in equivalent:
            row["equivalent"] += 1
        if code is None:
            row["not_checked"] += 1
        elif code in KILLED:
            row["killed"] += 1
        elif code in SURVIVED:
            row["survived"] += 1
        elif code in NO_TESTS:
            row["no_tests"] += 1
        elif code in TIMEOUTS:
            row["timeouts"] += 1
        else:
            row["other"] += 1
    return row


def score(row: dict) -> float | None:
    """killed / (mutants - equivalent); None when nothing is left to kill."""
    denominator = row["mutants"] - row["equivalent"]
    return None if denominator <= 0 else round(row["killed"] / denominator, 4)


def scores(mutants_dir: Path, equivalent: dict[str, str]) -> list[dict]:
    """One row per module with mutants (sorted by path), then the total (module "TOTAL")."""
    rows, total = [], dict.fromkeys(FIELDS, 0)
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not exit_codes:
            continue
        row = count(exit_codes, equivalent)
        for field in FIELDS:
            total[field] += row[field]
        rows.append({"module": module_of(meta, mutants_dir), **row, "score": score(row)})
    rows.append({"module": "TOTAL", **total, "score": score(total)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--equivalent", type=Path, default=ROOT / "benchmarks" / "mutation_equivalent.txt")
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        print(f"no {args.mutants}: run mutmut first (make mutation)", file=sys.stderr)
        return 1
    equivalent = read_equivalent(args.equivalent)
    rows = scores(args.mutants, equivalent)
    known = {name for meta in args.mutants.rglob("*.py.meta") for name in json.loads(meta.read_text())["exit_code_by_key"]}
    for name in sorted(set(equivalent) - known):
        print(f"warning: {name} is listed as equivalent but is no mutant of this run", file=sys.stderr)
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
