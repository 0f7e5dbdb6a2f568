"""Offline categories: general rules that match the labels of the shared logs and typical failures."""

import pytest

from ddpui.core.summaries.categorize import CATEGORIES, STEP_NOUNS, categorize
from ddpui.core.summaries.condense import condense
from ddpui.core.summaries.locate import kind_for


def verdict_for(label: dict):
    """The offline verdict the summarizer would reach for a shared log."""
    excerpt = condense(label["lines"])
    return categorize([text for _, text in excerpt.key_lines], other_text=excerpt.text, step_kind=label["step_kind"])


def test_at_least_eight_of_ten_shared_logs_match_their_label(shared_logs):
    matches = sum(verdict_for(label).category == label["category"] for label in shared_logs)
    assert matches >= 8


def test_verdicts_are_well_formed(shared_log):
    verdict = verdict_for(shared_log)
    assert verdict.category in CATEGORIES
    assert "\n" not in verdict.title and len(verdict.title) < 160
    assert 2 <= len(verdict.fix_steps) <= 4


@pytest.mark.parametrize("line,category,transient", [
    ("ERROR Max retries exceeded: 503 Service Unavailable", "network", True),
    ("psycopg2.OperationalError: could not connect to server: Connection refused", "network", True),
    ("Container killed: OOMKilled (exit code 137)", "resource_limit", False),
    ("HTTP 429 Too Many Requests: rate limit exceeded", "resource_limit", True),
    ('Database Error in model stg_forms: syntax error at or near "FROM"', "sql_error", False),
    ('Database Error in model stg_forms: column "email" does not exist', "schema", False),
    ("FATAL: password authentication failed for user \"dalgo\"", "auth", False),
    ("canceling statement due to statement timeout", "timeout", True),
    ("ModuleNotFoundError: No module named 'pandas'", "dependency", False),
    ("TypeError: unsupported operand type(s) for +: 'int' and 'str'", "code_bug", False),
    ("Got 12 results, configured to fail if != 0", "data_quality_test", False),
    ("Flow run crashed: worker lost heartbeat", "infrastructure", True),
    ("something odd happened", "other", False),
])
def test_typical_failures(line, category, transient):
    verdict = categorize([line], step_kind="shell")
    assert (verdict.category, verdict.is_transient) == (category, transient)


def test_falls_back_to_the_rest_of_the_excerpt():
    verdict = categorize(["Task run failed"], other_text="... httpx.ReadTimeout ...", step_kind="task")
    assert verdict.category == "timeout"
    assert verdict.title.startswith("A pipeline task failed because")


@pytest.mark.parametrize(
    "kind",
    [
        kind_for(None, "sync", "conn-1"),
        kind_for({"slug": "dbt-run"}, "dbtjob-run", None),
        kind_for({"slug": "git-pull"}, "shellop-git-pull", None),
        kind_for(None, "some prefect task", None),
        "flow",  # the root run's own body (locate.step_from_flow_run)
    ],
)
def test_every_step_kind_the_locator_produces_gets_its_own_noun(kind):
    verdict = categorize(["boom"], step_kind=kind)
    assert not verdict.title.startswith("The pipeline step"), kind
    assert verdict.title.startswith(STEP_NOUNS[kind])
