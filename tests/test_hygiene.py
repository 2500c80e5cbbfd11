"""Hygiene of the test suite itself, by reading its source (no conftest hook: conftest.py has another owner):
test callbacks keep their state per instance, test modules do not import each other, one ``scipy_fid``,
and every test that reads ../shared/data carries the ``realdata`` marker."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

TESTS = ROOT / "tests"
SOURCES = sorted(TESTS.glob("*.py"))
TEST_MODULES = [p for p in SOURCES if p.name.startswith("test_")]


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def base_names(cls: ast.ClassDef) -> set[str]:
    return {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in cls.bases}


def is_mutable(value: ast.expr | None) -> bool:
    if isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    return isinstance(value, ast.Call) and getattr(value.func, "id", "") in ("list", "dict", "set", "defaultdict")


def class_level_mutables(path: Path) -> list[str]:
    """Callback classes whose body binds a list/dict/set (shared by every instance and every run)."""
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ClassDef) and "Callback" in base_names(node):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and is_mutable(stmt.value):
                    names = [getattr(t, "id", "?") for t in stmt.targets]
                elif isinstance(stmt, ast.AnnAssign) and is_mutable(stmt.value):
                    names = [getattr(stmt.target, "id", "?")]
                else:
                    continue
                found += [f"{path.name}:{stmt.lineno} {node.name}.{n}" for n in names]
    return found


def test_test_callbacks_keep_no_mutable_class_level_state():
    offenders = [hit for path in SOURCES for hit in class_level_mutables(path)]
    assert offenders == [], ("make these instance attributes (set in __init__) and write results to a file: "
                             + ", ".join(offenders))


def test_class_level_state_is_detected(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from lightning import Callback\nclass C(Callback):\n    calls: list = []\n    n = 0\n")
    assert class_level_mutables(sample) == ["sample.py:3 C.calls"]


def imported_test_modules(path: Path) -> list[str]:
    """Test modules that ``path`` imports, or names as a Hydra ``_target_`` (``tests.test_x.Thing``), other
    than itself."""
    own = f"tests.{path.stem}"
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "tests" else [])
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            continue
        found += [m for m in modules if re.fullmatch(r"tests\.test_\w+(\..*)?", m)]
    found += re.findall(r"_target_[=:]\s*(tests\.test_\w+)\.", path.read_text())
    return sorted({m.split(".")[0] + "." + m.split(".")[1] for m in found} - {own})


def test_no_test_module_imports_another_test_module():
    offenders = {p.name: imported_test_modules(p) for p in SOURCES if imported_test_modules(p)}
    assert offenders == {}, "move what they share into tests/helpers.py"


def test_one_scipy_fid_helper_in_helpers():
    defined = [f"{p.name}:{n.lineno}" for p in SOURCES for n in ast.walk(tree(p))
               if isinstance(n, ast.FunctionDef) and n.name == "scipy_fid"]
    assert defined == [f"helpers.py:{next(n.lineno for n in ast.walk(tree(TESTS / 'helpers.py')) if isinstance(n, ast.FunctionDef) and n.name == 'scipy_fid')}"], defined


# --- realdata --------------------------------------------------------------------------------------------

def marks(decorators: list[ast.expr]) -> set[str]:
    """Names of the ``pytest.mark.<name>`` decorators (called or not)."""
    names = set()
    for d in decorators:
        d = d.func if isinstance(d, ast.Call) else d
        if isinstance(d, ast.Attribute) and isinstance(d.value, ast.Attribute) and d.value.attr == "mark":
            names.add(d.attr)
    return names


def module_marks(module: ast.Module) -> set[str]:
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in stmt.targets):
            values = stmt.value.elts if isinstance(stmt.value, (ast.List, ast.Tuple)) else [stmt.value]
            return {v.attr for v in values if isinstance(v, ast.Attribute)}
    return set()


def is_fixture(fn: ast.FunctionDef) -> bool:
    for d in fn.decorator_list:
        d = d.func if isinstance(d, ast.Call) else d
        if (isinstance(d, ast.Attribute) and d.attr == "fixture") or getattr(d, "id", "") == "fixture":
            return True
    return False


def uses_shared_data(fn: ast.FunctionDef, data_fixtures: set[str]) -> bool:
    params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
    body_names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    return bool(params & data_fixtures) or "SHARED_DATA" in body_names


def unmarked_realdata_tests(path: Path) -> list[str]:
    module = tree(path)
    functions = [n for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    data_fixtures = {"shared_data"}
    while True:  # fixtures of this module that depend on the data (directly or through each other)
        more = {f.name for f in functions if is_fixture(f) and uses_shared_data(f, data_fixtures)} - data_fixtures
        if not more:
            break
        data_fixtures |= more
    marked_module = "realdata" in module_marks(module)
    marked_classes = {id(f) for c in ast.walk(module) if isinstance(c, ast.ClassDef) and "realdata" in marks(c.decorator_list)
                      for f in c.body if isinstance(f, ast.FunctionDef)}
    return [f"{path.name}::{f.name}" for f in functions
            if f.name.startswith("test_") and not is_fixture(f) and uses_shared_data(f, data_fixtures)
            and not (marked_module or id(f) in marked_classes or "realdata" in marks(f.decorator_list))]


def test_every_test_that_reads_shared_data_is_marked_realdata():
    offenders = [name for path in TEST_MODULES for name in unmarked_realdata_tests(path)]
    assert offenders == [], "add @pytest.mark.realdata (they read ../shared/data): " + ", ".join(offenders)


@pytest.mark.parametrize(("source", "expected"), [
    ("def test_a(shared_data):\n    pass\n", ["sample.py::test_a"]),
    ("import pytest\n@pytest.mark.realdata\ndef test_a(shared_data):\n    pass\n", []),
    ("import pytest\npytestmark = pytest.mark.realdata\ndef test_a(shared_data):\n    pass\n", []),
    ("import pytest\n@pytest.fixture\ndef run(shared_data):\n    pass\ndef test_a(run):\n    pass\n", ["sample.py::test_a"]),
    ("from tests.helpers import SHARED_DATA\ndef test_a():\n    return SHARED_DATA\n", ["sample.py::test_a"]),
    ("def test_a(tmp_path):\n    pass\n", []),
])
def test_the_realdata_check_finds_unmarked_tests(source, expected, tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(source)
    assert unmarked_realdata_tests(sample) == expected
