"""The import graph of gan_experiments goes one way (issue 18).

The graph is built from the source by AST, not by importing it: every ``import`` and ``from ... import``
counts, at module level, inside functions and methods, and under ``if TYPE_CHECKING:`` alike (a lazy
import inside a function is still a dependency, and one that hides a cycle). ``from pkg import name``
is an edge to ``pkg.name`` when that is a module, else to ``pkg``; importing ``a.b.c`` also runs the
``__init__`` of ``a.b`` and ``a``, so it is an edge to those packages too (except the ones the importer
itself lives in).

Layers, highest first; an edge may go down or stay in its layer, never up:

    0  entry points    train.py, evaluate.py, gan_experiments.cli, gan_experiments.sweeps
    1  pipeline        gan_experiments.pipeline
    2  callbacks, tools
    3  metrics, models, config (``validate`` knows every group's names: metrics protocols, network
       norms), building (``build``/``build_loss``/``build_module``: a run's parts from config nodes, used
       by the pipeline and by ``tools.checkpoints``)
    4  networks, losses, data, training, and the small shared modules: errors (``ConfigError``,
       ``MultirunError``), io (``write_json_atomic``), latents (``truncated_normal``, ``fixed_latents``),
       loggers, run_dir, checkpoint_io

Inside a layer the packages must not form a cycle either (callbacks -> tools -> callbacks is as bad as
an upward edge), and no two modules may import each other through any path.

``python tests/test_import_graph.py`` prints the layers, the package-level edges and any violation.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "gan_experiments"

# component (the first name below gan_experiments, or an entry-point script) -> layer; 0 is the top
LAYERS: dict[str, int] = {
    "train": 0,  # train.py
    "evaluate": 0,  # evaluate.py
    "cli": 0,
    "sweeps": 0,
    "pipeline": 1,
    "callbacks": 2,
    "tools": 2,
    "metrics": 3,
    "models": 3,
    "config": 3,  # validate() knows every group (metrics protocols, network norms); its errors are in errors
    "building": 3,  # build / build_loss / build_module: a run's parts from their config nodes
    "networks": 4,
    "losses": 4,
    "data": 4,
    "training": 4,
    "errors": 4,
    "io": 4,
    "latents": 4,
    "loggers": 4,
    "run_dir": 4,
    "checkpoint_io": 4,
    "__init__": 4,  # gan_experiments/__init__.py
}
LAYER_NAMES = {
    0: "entry points",
    1: "pipeline",
    2: "callbacks, tools",
    3: "metrics, models, config, building",
    4: "networks, losses, data, training, shared modules",
}
ENTRY_SCRIPTS = ("train.py", "evaluate.py")


def _module_files() -> dict[str, Path]:
    """Every module of the package (and the entry scripts) by dotted name."""
    files: dict[str, Path] = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    for script in ENTRY_SCRIPTS:
        files[Path(script).stem] = ROOT / script
    return files


def _is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py"


def _resolve(importer: str, node: ast.ImportFrom, files: dict[str, Path]) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer, files):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(importer: str, tree: ast.AST, files: dict[str, Path]) -> set[str]:
    """The package modules ``importer`` imports, anywhere in its body."""
    named: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(importer, node, files)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                named.add(sub if sub in files else base)
    out: set[str] = set()
    own = importer.split(".")
    own_ancestors = {".".join(own[:i]) for i in range(1, len(own) + 1)}
    for name in named:
        if name.split(".")[0] != PACKAGE:
            continue
        while name and name not in files:  # `import gan_experiments.x.attr` style: fall back to the module
            name = name.rpartition(".")[0]
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in files and prefix not in own_ancestors:
                out.add(prefix)
    out.discard(importer)
    return out


def build_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports."""
    files = _module_files()
    return {name: _targets(name, ast.parse(path.read_text(), str(path)), files) for name, path in files.items()}


def component(module: str) -> str:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return parts[0]
    return parts[1] if len(parts) > 1 else "__init__"


def layer(module: str) -> int:
    comp = component(module)
    if comp not in LAYERS:
        raise KeyError(f"{module}: component {comp!r} has no layer; add it to LAYERS in {__file__}")
    return LAYERS[comp]


def upward_edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets if layer(b) < layer(a))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def component_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    comp: dict[str, set[str]] = defaultdict(set)
    for a, targets in graph.items():
        comp[component(a)]
        for b in targets:
            if component(a) != component(b):
                comp[component(a)].add(component(b))
    return dict(comp)


def _edge_paths(graph: dict[str, set[str]], a: str, b: str) -> list[str]:
    """The module edges behind the component edge a -> b."""
    return sorted(f"{x} -> {y}" for x, ts in graph.items() for y in ts if component(x) == a and component(y) == b)


# --- the tests ---------------------------------------------------------------------------------------


def test_every_component_has_a_layer():
    missing = sorted({component(m) for m in build_graph()} - set(LAYERS))
    assert not missing, f"components without a layer in LAYERS: {missing}"


def test_no_edge_goes_up_the_layers():
    graph = build_graph()
    bad = [f"{a} (layer {layer(a)}) -> {b} (layer {layer(b)})" for a, b in upward_edges(graph)]
    assert not bad, "imports that go up the layer order:\n" + "\n".join(bad)


def test_no_module_cycle():
    found = cycles(build_graph())
    assert not found, "module import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_package_cycle():
    graph = build_graph()
    found = cycles(component_graph(graph))
    lines = []
    for scc in found:
        for a in scc:
            for b in scc:
                if a != b:
                    lines += _edge_paths(graph, a, b)
    assert not found, f"package cycles {found}, through:\n" + "\n".join(lines)


def private_imports() -> list[str]:
    """``from gan_experiments.<a> import _name`` in a module of another package than ``<a>``'s: a private name
    used across packages (make it public where it lives, or move it to the layer both use)."""
    files = _module_files()
    out = []
    for importer, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _resolve(importer, node, files)
            if base.split(".")[0] != PACKAGE or component(base) == component(importer):
                continue
            out += [f"{importer}: from {base} import {a.name}" for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")]
    return sorted(out)


def test_no_private_name_imported_across_packages():
    found = private_imports()
    assert not found, "private names used outside their package:\n" + "\n".join(found)


def test_checker_sees_an_upward_function_level_import(tmp_path):
    """The checker itself: a lazy upward import inside a function is found, and so is the cycle it makes."""
    files = _module_files()
    src = "def f():\n    from gan_experiments.pipeline import train\n    return train\n"
    targets = _targets("gan_experiments.networks.dcgan", ast.parse(src), files)
    assert "gan_experiments.pipeline" in targets
    graph = build_graph()
    graph["gan_experiments.networks.dcgan"] = graph["gan_experiments.networks.dcgan"] | targets
    assert ("gan_experiments.networks.dcgan", "gan_experiments.pipeline") in upward_edges(graph)
    assert any("gan_experiments.pipeline" in c and "gan_experiments.networks.dcgan" in c for c in cycles(graph))


def test_checker_resolves_relative_and_submodule_imports():
    files = _module_files()
    src = "from . import gan\nfrom ..callbacks import metrics_json\nimport gan_experiments.losses.adversarial\n"
    targets = _targets("gan_experiments.models.vae", ast.parse(src), files)
    assert {"gan_experiments.models.gan", "gan_experiments.callbacks.metrics_json",
            "gan_experiments.callbacks", "gan_experiments.losses.adversarial",
            "gan_experiments.losses"} <= targets
    assert "gan_experiments.models" not in targets  # its own package is already being imported


def summary() -> str:
    graph = build_graph()
    comp = component_graph(graph)
    lines = ["layers (0 is the top; imports go down or stay in their layer):"]
    for n, name in LAYER_NAMES.items():
        members = sorted(c for c, lv in LAYERS.items() if lv == n)
        lines.append(f"  {n} {name}: {', '.join(members)}")
    lines.append("package edges (module edges behind each):")
    for a in sorted(comp, key=lambda c: (LAYERS.get(c, 99), c)):
        for b in sorted(comp[a], key=lambda c: (LAYERS.get(c, 99), c)):
            mark = "  UP" if LAYERS.get(b, 99) < LAYERS.get(a, 99) else ""
            lines.append(f"  {a} [{LAYERS.get(a)}] -> {b} [{LAYERS.get(b)}]{mark}  ({len(_edge_paths(graph, a, b))})")
    up = upward_edges(graph)
    lines.append(f"upward module edges: {len(up)}")
    lines += [f"  {a} -> {b}" for a, b in up]
    mc = cycles(graph)
    lines.append(f"module cycles: {len(mc)}")
    lines += ["  " + " <-> ".join(c) for c in mc]
    pc = cycles(comp)
    lines.append(f"package cycles: {len(pc)}")
    for scc in pc:
        lines.append("  " + " <-> ".join(scc))
        for a in scc:
            for b in scc:
                if a != b:
                    lines += ["    " + e for e in _edge_paths(graph, a, b)]
    lines.append(f"private names imported across packages: {len(private_imports())}")
    lines += ["  " + p for p in private_imports()]
    lines.append(f"{len(graph)} modules, {sum(map(len, graph.values()))} module edges")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary())
