"""The layout's rules, read from the source (AST), so that a change that breaks one fails here.

``src/cnibench`` has no import circle (a strongly connected component of its import graph with more than one module),
and one fails the test. Every import counts: module level, inside a function, and under ``if TYPE_CHECKING:`` (a
type-only import is still a design dependency: the module cannot be understood without the other).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parents[2] / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    """Module -> the cnibench modules it imports. ``from package import name``: the submodule when ``name`` is one,
    else the package itself."""
    modules = {_module_name(p): p for p in (SRC / "cnibench").rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            graph.add_edges_from((name, t) for t in targets if t in modules and t != name)
    return graph


def circles() -> list[frozenset[str]]:
    return [frozenset(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert graph.number_of_nodes() > 100
    assert graph.has_edge("cnibench.results.model", "cnibench.results.sample")  # a plain module-level import


def test_no_import_circle():
    found = sorted(sorted(c) for c in circles())
    assert not found, f"import circle(s): {found}"


def test_layers_that_must_not_know_each_other():
    """The orchestration imports no platform; the report names no scenario module; scenarios import no report other
    than the leaf figure module and the text helpers, and no results model beyond samples, metrics and groups."""
    graph = import_graph()
    for source, target in graph.edges:
        if source.startswith("cnibench.report.") and source != "cnibench.report.plots":
            assert not target.startswith(("cnibench.scenarios.egress", "cnibench.scenarios.ingress")), (source, target)
        if source.startswith("cnibench.scenarios"):
            assert target not in ("cnibench.results.model", "cnibench.results.analysis", "cnibench.report.document"), (
                source,
                target,
            )
        if source.startswith("cnibench.orchestration"):
            assert not target.startswith("cnibench.platforms"), (source, target)
        if source.startswith("cnibench.reanalysis"):
            assert not target.startswith("cnibench.scenarios.") or target == "cnibench.scenarios.base", (source, target)
