"""Every function of the stand-ins says why it exists (the project's docstring rule covers test servers too)."""

import ast
from pathlib import Path

STANDINS = Path(__file__).resolve().parents[2] / "standins"


def test_every_standin_function_has_a_docstring():
    missing = [
        f"{path.name}:{node.lineno} {node.name}"
        for path in sorted(STANDINS.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not ast.get_docstring(node)
    ]
    assert missing == []
