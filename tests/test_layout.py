"""The package's shape: no import cycles (type-checking and function-level imports
included), and a command line that starts without the heavy libraries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "actbench"
HEAVY = ("torch", "pandas", "scipy", "matplotlib", "numpy")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the actbench modules it imports in any statement, anywhere in the file.

    ``from pkg import name`` counts as importing pkg.name where that is a module, else
    pkg; a package's own import of its parent (implied by Python) is not counted."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_type_checking_and_lazy_imports():
    graph = import_graph()
    assert "actbench.report.build" in graph["actbench.report.summary"]  # under TYPE_CHECKING
    assert "actbench.tasks.mlp.model" in graph["actbench.tasks.mlp"]  # inside a method
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_inside_the_package():
    assert find_cycle(import_graph()) is None


def test_the_contracts_depend_on_nothing_of_actbench():
    assert import_graph()["actbench.api"] == set()


LOADED = (
    "import sys; from typer.testing import CliRunner; from actbench.cli import app; "
    "result = CliRunner().invoke(app, {args}); assert result.exit_code == 0, result.output; "
    "print(__import__('json').dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
)


@pytest.mark.parametrize(
    "args", [["--help"], ["run", "--help"], ["report", "--help"], ["acts"], ["tasks"], ["tasks", "mnist"]]
)
def test_help_and_listings_import_no_heavy_library(args):
    done = subprocess.run([sys.executable, "-c", LOADED.format(args=args)], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
