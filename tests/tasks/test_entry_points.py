"""tasks/ holds only thin entry points for the cluster: no ORM query and no model import in any of them."""

import ast
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"


def test_no_task_module_queries_the_database_itself():
    for path in sorted(TASKS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
        queries = [node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "objects"]
        assert not [name for name in imported if name.startswith("ddpui.models")], path.name
        assert not queries, f"{path.name} runs ORM queries: move them to ddpui/core"
