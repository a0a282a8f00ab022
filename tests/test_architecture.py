"""The import rule of docs/architecture.md, checked on the source: layers point one way, no cycles.

Every `import` counts, including those under TYPE_CHECKING and inside functions: a lazy import hides a
cycle from the interpreter, not from the reader.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "llmvet"

# Lower layers never import higher ones; a package imports only packages of a lower rank. Packages
# of the same rank (review and observe) do not import each other: they meet through the contract.
LAYERS: dict[str, int] = {
    "store": 0,
    "text": 0,
    "records": 0,
    "journal": 0,
    "errors": 0,
    "spans": 0,
    "logs": 0,
    "json_escapes": 0,
    "resources": 1,
    "audit": 1,
    "embeddings": 2,
    "validators": 3,
    "policy": 4,
    "extensions": 5,
    "review": 6,
    "observe": 6,
    "config": 7,
    "proxy": 8,
    "cli": 9,
    "__main__": 10,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_graph() -> dict[str, set[str]]:
    """module -> the llmvet modules it imports (package imports resolve to the package's __init__)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import submodule` depends on the submodule; `from pkg import name` on pkg
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t in modules and t != name and t != "llmvet":
                    graph[name].add(t)
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative enough for this size)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


GRAPH = _import_graph()


def test_every_package_has_a_layer():
    assert {_package(m) for m in GRAPH} - {"llmvet"} <= set(LAYERS), "add new packages to LAYERS and the doc"


def test_imports_point_down_the_layers():
    wrong = sorted(
        f"{a} imports {b}"
        for a, targets in GRAPH.items()
        for b in targets
        if _package(a) != _package(b) and _package(a) != "llmvet" and LAYERS[_package(b)] >= LAYERS[_package(a)]
    )
    assert wrong == []


def test_no_module_import_cycles():
    assert _cycles(GRAPH) == []


def test_no_package_import_cycles():
    packages: dict[str, set[str]] = collections.defaultdict(set)
    for a, targets in GRAPH.items():
        for b in targets:
            if _package(a) != _package(b):
                packages[_package(a)].add(_package(b))
    assert _cycles(dict(packages)) == []


@pytest.mark.parametrize("package", ["review", "observe"])
def test_extensions_use_only_the_contract(package):
    """Extensions see the proxy through llmvet.extensions, never its modules."""
    reaching = sorted(
        f"{a} -> {b}"
        for a, ts in GRAPH.items()
        if _package(a) == package
        for b in ts
        if _package(b) in ("proxy", "policy", "cli", "config")
    )
    assert reaching == []


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The checks above can fail: a made-up graph with both faults is caught."""
    fake = {"llmvet.store.a": {"llmvet.proxy.b"}, "llmvet.proxy.b": {"llmvet.store.a"}}
    assert _cycles(fake) == [["llmvet.proxy.b", "llmvet.store.a"]]
    assert LAYERS[_package("llmvet.proxy.b")] > LAYERS[_package("llmvet.store.a")]


MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def test_functions_and_modules_stay_small():
    """A function a reader can hold in view; modules with one job (ruff's C901 caps complexity at 15)."""
    too_long = []
    for path in sorted(SRC.rglob("*.py")):
        source = path.read_text()
        if source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(SRC)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {lines} lines")
    assert too_long == []
