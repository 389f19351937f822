"""Imports only point down: no runtime import cycle among zettelmem's modules.

Each module's runtime imports are read with ``ast``: every ``import`` and
``from ... import`` statement, at module level or deferred inside a function (a
deferred import still runs, it only hides the edge), except those under
``if TYPE_CHECKING:``, which never run. A cycle fails the test with the modules
on it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

import zettelmem

PACKAGE = Path(zettelmem.__file__).resolve().parent
ROOT_NAME = "zettelmem"


def module_names() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that can run (everything but ``if TYPE_CHECKING:`` bodies)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for stmt in node.orelse:
            yield from runtime_imports(stmt)
        return
    for child in ast.iter_child_nodes(node):
        yield from runtime_imports(child)


def targets(node: ast.Import | ast.ImportFrom, module: str, is_pkg: bool, known: set[str]) -> set[str]:
    """The zettelmem modules an import statement loads (the deepest known module of each name)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            pkg = module.split(".") if is_pkg else module.split(".")[:-1]
            pkg = pkg[: len(pkg) - (node.level - 1)]
            base = ".".join([*pkg, base] if base else pkg)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    out = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        # importing zettelmem.a.b runs zettelmem/a/__init__.py first, an edge too, unless the
        # importer is inside zettelmem.a (then that __init__ is already running). The root
        # package's __init__ is the one place that imports the whole public API: left out.
        while name.startswith(ROOT_NAME + ".") and not (module + ".").startswith(name + "."):
            out.add(name)
            name = name.rpartition(".")[0]
    return out


def import_graph() -> nx.DiGraph:
    mods = module_names()
    known = set(mods)
    graph = nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in runtime_imports(tree):
            for target in targets(node, name, path.name == "__init__.py", known):
                if target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_walker_sees_real_edges():
    g = import_graph()
    assert g.number_of_nodes() > 40
    assert g.has_edge("zettelmem.engine.core", "zettelmem.engine.pipeline")
    assert g.has_edge("zettelmem.engine.sync", "zettelmem.engine.core")  # (the root package imports lazily)


def test_the_walker_finds_a_planted_cycle():
    g = import_graph()
    g.add_edge("zettelmem.models", "zettelmem.engine.core")  # what a careless import would do
    assert any(len(c) > 1 for c in nx.strongly_connected_components(g))


def test_no_runtime_import_cycle():
    g = import_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    if cycles:
        sample = nx.find_cycle(g.subgraph(cycles[0]))
        raise AssertionError(f"{len(cycles[0])} modules import each other, e.g. {' -> '.join(a for a, _ in sample)} "
                             f"-> {sample[-1][1]}: {cycles[0]}")


def test_card_rendering_is_a_stdlib_only_leaf():
    path = module_names()["zettelmem._cards"]
    tops = set()
    for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        tops |= {n.split(".")[0] for n in names}
    assert tops <= set(sys.stdlib_module_names) | {"__future__"}, tops
    g = import_graph()
    assert list(g.successors("zettelmem._cards")) == []
    assert {"zettelmem.models", "zettelmem.engine.results", "zettelmem.display", "zettelmem.cli._render"} <= set(
        g.predecessors("zettelmem._cards"))
