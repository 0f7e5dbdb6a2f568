"""The packages of `ddpui/` do not import each other in a circle: each package's job can be read on its own.

A package here is a directory of modules at the level of a concern (`ddpui/core/summaries`, `ddpui/api`, ...); an edge A -> B means a module
of A imports a module of B at its top level. The test fails with the cycle it found.
"""

import ast
from pathlib import Path

DDPUI = Path(__file__).resolve().parent.parent / "ddpui"


def package_of(module: str) -> str:
    """The package a module belongs to: the directory that holds it, counted at the level of a concern
    (`ddpui.api`, `ddpui.core.summaries`); a sub-package such as `summaries/condense` is part of its parent."""
    path = DDPUI.parent.joinpath(*module.split("."))
    directory = module if path.is_dir() else module.rsplit(".", 1)[0]
    parts = directory.split(".")
    depth = 3 if parts[:2] == ["ddpui", "core"] else 2
    return ".".join(parts[:depth])


def imported_modules(source: Path) -> set[str]:
    """The `ddpui` modules a file imports (migrations and imports of names resolved to their module)."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("ddpui"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ddpui"):
            found.add(node.module)
    return found


def package_graph() -> dict[str, set[str]]:
    """Edges between packages, self-edges left out."""
    graph: dict[str, set[str]] = {}
    for source in DDPUI.rglob("*.py"):
        if "migrations" in source.parts:
            continue
        module = ".".join(source.relative_to(DDPUI.parent).with_suffix("").parts)
        own = package_of(module)
        for target in imported_modules(source):
            other = package_of(target)
            if other != own:
                graph.setdefault(own, set()).add(other)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of packages, or None."""
    visiting, done = [], set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return visiting[visiting.index(node):] + [node]
        if node in done:
            return None
        visiting.append(node)
        for nxt in sorted(graph.get(node, ())):
            cycle = visit(nxt)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_packages_of_ddpui_import_each_other_in_no_cycle():
    assert find_cycle(package_graph()) is None, " -> ".join(find_cycle(package_graph()))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
