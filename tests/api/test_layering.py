"""The API modules parse, check permissions and shape answers: every database read goes through
ddpui/core/summaries/selectors.py (or core's other modules), so no API module runs an ORM query itself."""

import ast
from pathlib import Path

API_DIR = Path(__file__).resolve().parents[2] / "ddpui" / "api"


def test_no_api_module_runs_an_orm_query():
    for path in sorted(API_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        queries = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "objects"]
        assert not queries, f"{path.name} lines {queries} query the ORM: use a selector in ddpui/core"
