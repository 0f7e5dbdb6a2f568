"""Grounding by text, with stand-in answers shaped like the real small models' mistakes: the right quote under
the wrong line number, invented quotes, a wrong category at confidence 0.95. What is stored must never be worse
than the offline summary of the same excerpt."""

import json

import pytest

from ddpui.core.summaries.condense import condense
from ddpui.core.summaries.grounding import DISPUTED_CONFIDENCE_CAP, find_quote
from ddpui.core.summaries.summarize import offline_summary, summarize_logs

STEP = {"kind": "dbt", "label": "dbtjob-dbt-run", "task_slug": "dbt-run", "flow_run_id": "r"}
LOG = [
    "Running with dbt=1.8.2",
    "Found 3 models, 2 tests",
    "[WARNING]: Deprecated functionality: the --models flag is deprecated, use --select",
    "Database Error in model stg_customers (models/staging/stg_customers.sql)",
    '  column "id" does not exist',
    "  LINE 12:     id as customer_id,",
    "Done. PASS=0 WARN=0 ERROR=1 SKIP=0 TOTAL=1",
]
WARNING_LINE, ERROR_LINE, COLUMN_LINE = 3, 4, 5
# The model call takes a global LLM slot (a database advisory lock).
pytestmark = pytest.mark.django_db


@pytest.fixture
def excerpt():
    """A condensed dbt failure whose root cause is lines 4-5 and whose rules verdict (schema) is clear."""
    return condense(LOG)


def answer(evidence: list[dict], *, category: str = "schema", confidence: float = 0.8) -> str:
    """A model answer in our schema with the given evidence and category."""
    return json.dumps({
        "title": "A column is missing", "summary": "The model stg_customers reads a column that is gone.",
        "root_cause": 'column "id" does not exist', "category": category, "fix_steps": ["Rename the column."],
        "evidence": evidence, "is_transient": False, "confidence": confidence,
    })


def test_the_right_quote_under_the_wrong_number_is_stored_under_the_number_that_holds_it(org, excerpt, llm_api):
    # The 1.5B model's habit: the compilation error's text, the deprecation warning's number.
    llm_api.add_content(answer([{"line": WARNING_LINE, "text": '  column "id" does not exist'},
                                {"line": 1, "text": f"{ERROR_LINE} | {LOG[ERROR_LINE - 1]}"}]))
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    assert result.provider == "openai"
    assert result.evidence[:2] == [{"line": COLUMN_LINE, "text": LOG[COLUMN_LINE - 1]},
                                   {"line": ERROR_LINE, "text": LOG[ERROR_LINE - 1]}]
    assert result.grounded is True


def test_the_offline_summarys_evidence_is_always_kept_beside_the_models_quotes(org, excerpt, llm_api):
    # A model citing one root-cause line (and a warning) must not store less than the offline summary does.
    offline = offline_summary(excerpt, STEP, "Failed")
    llm_api.add_content(answer([{"line": COLUMN_LINE, "text": LOG[COLUMN_LINE - 1]},
                                {"line": WARNING_LINE, "text": LOG[WARNING_LINE - 1]}]))
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    stored = [item["line"] for item in result.evidence]
    assert {item["line"] for item in offline.evidence} <= set(stored)
    assert stored[0] == COLUMN_LINE and stored[-1] == WARNING_LINE, "cited root cause first, other quotes last"


def test_invented_quotes_are_dropped_and_the_top_root_cause_lines_are_stored(org, excerpt, llm_api):
    llm_api.add_content(answer([{"line": ERROR_LINE, "text": "ERROR: relation customers_v2 is locked by another job"},
                                {"line": 2, "text": "Disk quota exceeded on /var/lib/postgresql"}]))
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    stored = {item["line"] for item in result.evidence}
    assert {ERROR_LINE, COLUMN_LINE} <= stored, "the rules' root-cause lines, as the offline summary has them"
    assert all("locked" not in item["text"] and "quota" not in item["text"] for item in result.evidence)
    assert result.grounded is False


def test_real_but_irrelevant_quotes_do_not_push_out_the_top_root_cause_lines(org, excerpt, llm_api):
    llm_api.add_content(answer([{"line": WARNING_LINE, "text": LOG[WARNING_LINE - 1]}]))
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    assert [item["line"] for item in result.evidence][:2] == [ERROR_LINE, COLUMN_LINE]
    assert WARNING_LINE in {item["line"] for item in result.evidence}
    assert result.grounded is False


def test_a_wrong_category_at_095_on_a_clear_case_stores_the_rules_category_beside_the_models(org, excerpt, llm_api):
    offline = offline_summary(excerpt, STEP, "Failed")
    llm_api.add_content(answer([{"line": COLUMN_LINE, "text": LOG[COLUMN_LINE - 1]}], category="network",
                               confidence=0.95))
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    assert result.category == offline.category == "schema"
    assert result.model_category == "network"
    assert result.confidence <= DISPUTED_CONFIDENCE_CAP


def test_a_model_agreeing_with_the_rules_keeps_its_confidence(org, excerpt, llm_api):
    llm_api.add_content(answer([{"line": COLUMN_LINE, "text": LOG[COLUMN_LINE - 1]}], confidence=0.9))
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    assert (result.category, result.model_category, result.confidence) == ("schema", "", 0.9)


def test_a_short_fragment_is_too_vague_to_pin_but_a_specific_one_is_found():
    lines = [(10, "2024-05-01 10:00:03 ERROR Failure in source: HTTP 403 Forbidden"), (11, "ERROR failed")]
    assert find_quote("failed", 10, lines) is None or find_quote("failed", 10, lines) == 11
    assert find_quote("Failure in source: HTTP 403 Forbidden", 11, lines) == 10
    assert find_quote("nothing like this is in the log at all", 10, lines) is None
