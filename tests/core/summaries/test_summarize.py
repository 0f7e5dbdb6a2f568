"""summarize_logs: one call, structured output asked for, fallbacks that keep a summary on screen."""

import pytest

from ddpui.core.summaries.condense import condense
from ddpui.core.summaries.summarize import summarize_logs

STEP = {"kind": "dbt", "label": "dbtjob-dbt-run", "task_slug": "dbt-run", "flow_run_id": "r"}
# The LLM call takes one of the global slots (PostgreSQL advisory locks, ddpui/core/llm_slots.py).
pytestmark = pytest.mark.django_db

LOG = ["Running with dbt=1.8.2", "Database Error in model stg_customers (models/staging/stg_customers.sql)",
       '  column "id" does not exist', "Done. PASS=0 WARN=0 ERROR=1 SKIP=0 TOTAL=1"]


@pytest.fixture
def excerpt():
    """A condensed dbt failure."""
    return condense(LOG)


def test_without_a_key_the_offline_summarizer_answers_honestly(org, excerpt):
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP, state_name="Failed")
    assert result.provider == "offline" and result.llm_error is None
    assert result.category in ("schema", "sql_error") and result.fix_steps
    assert any('column "id" does not exist' in item["text"] for item in result.evidence)
    assert "dbt-run" in result.title


def test_one_call_asking_for_json_schema_for_a_non_engineer(org, excerpt, llm_api):
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP, run_name="crimson-owl", state_name="Failed")
    assert llm_api.request_count == 1
    body = llm_api.chat_bodies()[0]
    assert body["response_format"]["type"] == "json_schema"
    assert "NGO" in body["messages"][0]["content"]
    assert "crimson-owl" in body["messages"][1]["content"] and "   2 |" in body["messages"][1]["content"]
    assert result.provider == "openai" and result.tokens_in and result.latency_ms is not None
    assert all(item["line"] in dict(excerpt.lines) for item in result.evidence), "evidence is grounded in our excerpt"


def test_a_server_without_json_schema_is_asked_again_plainer(org, excerpt, llm_api):
    llm_api.reject_json_schema = True
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    assert result.provider == "openai"
    assert [b.get("response_format", {}).get("type") for b in llm_api.chat_bodies()] == ["json_schema", "json_object"]


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_model_faults_fall_back_to_the_offline_summary_with_the_reason(org, excerpt, llm_api, settings, fault):
    settings.LLM_TIMEOUT_SECONDS = 0.5
    if fault == "500":
        llm_api.fail_next(500)
    elif fault == "429":
        llm_api.fail_next(429, retry_after=7)
    else:
        llm_api.delay_next(2)
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    assert result.provider == "offline" and result.llm_error and result.llm_error_transient
    if fault == "429":
        assert result.retry_after == 7


@pytest.mark.parametrize("answer", ["I cannot answer in JSON, sorry", '{"title": "cut mid-answer", "summ'])
def test_a_malformed_answer_falls_back_offline_and_is_not_retried(org, excerpt, llm_api, answer):
    llm_api.add_content(answer)
    result = summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    assert result.provider == "offline" and result.llm_error
    assert not result.llm_error_transient, "the same request would get the same answer"


def test_the_prompt_shows_an_example_object_and_one_log_excerpt_header(org, excerpt, llm_api):
    summarize_logs(org=org, excerpt=excerpt, failed_step=STEP)
    user = llm_api.chat_bodies()[0]["messages"][1]["content"]
    assert user.count("Log excerpt") == 1
    assert '"additionalProperties"' not in user and '"evidence": [{"line": 123' in user
