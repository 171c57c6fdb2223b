"""The package layout stays a layering: no import cycle between packages or modules.

Every ``import`` of kctx_cli code counts, including those inside functions (a lazy
import hides a cycle from Python, not from the reader). Packages are the directories
under kctx_cli/ plus its top-level modules (cli, config, errors, redact, sqltypes).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "kctx_cli"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """module -> the kctx_cli modules it imports (anywhere in its body)."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("kctx_cli"):
                    continue
                for alias in node.names:  # `from kctx_cli.query import expr` imports a module
                    full = f"{target}.{alias.name}"
                    edges[name].add(full if full in modules else target)
            elif isinstance(node, ast.Import):
                edges[name].update(a.name for a in node.names if a.name.startswith("kctx_cli"))
        edges[name].discard(name)
    return edges


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


EDGES = _imports()


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for a, targets in EDGES.items():
        for b in targets:
            if _package(a) != _package(b) and _package(b) != "kctx_cli":  # kctx_cli/__init__: version only
                graph[_package(a)].add(_package(b))
    return graph


def test_no_cycle_between_packages():
    assert _cycles(_package_graph()) == []


def test_no_cycle_between_modules():
    assert _cycles(EDGES) == []


@pytest.mark.parametrize("package, allowed", [
    # the SQL type model: one home that depends on nothing
    ("kctx_cli.sqltypes", set()),
    # the dialect: sqlglot and kctx's errors only
    ("kctx_cli.ksql", {"kctx_cli.errors"}),
    # the query DSL: types and the dialect
    ("kctx_cli.query", {"kctx_cli.sqltypes", "kctx_cli.ksql"}),
])
def test_low_layers_depend_on_little(package, allowed):
    assert _package_graph().get(package, set()) <= allowed


def test_the_checker_sees_a_cycle():
    # the walk itself: a cycle made up here is found, with every module on it
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
