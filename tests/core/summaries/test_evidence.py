"""Evidence of the failed step: paged, complete even when logs arrive late, level and timestamp kept."""

import pytest

from ddpui.core.flow_runs import read_flow_run_from_prefect
from ddpui.core.summaries.condense import LogGap, LogLine
from ddpui.core.summaries.evidence import gather_evidence
from ddpui.core.summaries.locate import locate_failed_step
from ddpui.core.summaries.pipeline import condense_evidence

pytestmark = pytest.mark.django_db


def evidence_of(run: dict):
    """Locate and gather the evidence of a stand-in run."""
    root = read_flow_run_from_prefect(run["id"])
    _, evidence = gather_evidence(locate_failed_step(root), root)
    return evidence


def test_all_pages_of_a_long_task_log_are_read(dalgo_runs, prefect_api):
    run, _ = dalgo_runs.pipeline(connections=0)
    task = dalgo_runs.dbt_task(run, lines=[f"line {n}" for n in range(1003)])
    evidence = evidence_of(run)
    assert len(evidence.lines) == 1003 and evidence.lines[-1].text == "line 1002"
    assert evidence.lines[0].level == "ERROR" and evidence.lines[0].timestamp
    pages = [r for r in prefect_api.requests("POST", "/api/logs/filter")]
    assert all(r.json["limit"] == 200 for r in pages) and task


def test_logs_that_arrive_after_the_webhook_are_waited_for(dalgo_runs, prefect_api, settings):
    run, _ = dalgo_runs.pipeline(connections=0)
    task = dalgo_runs.dbt_task(run, lines=["early line"])
    prefect_api.add_logs(["Database Error in model late_model"], flow_run_id=run["id"], task_run_id=task["id"],
                         visible_after=0.2)
    evidence = evidence_of(run)
    assert [line.text for line in evidence.lines] == ["early line", "Database Error in model late_model"]
    assert evidence.wait_ms > 0


def test_a_multiline_log_message_becomes_numbered_lines(dalgo_runs, prefect_api):
    run, _ = dalgo_runs.pipeline(connections=0)
    task = prefect_api.add_task_run(run["id"], name="dbtjob-dbt-run", state_type="FAILED")
    prefect_api.add_log("Task failed\nTraceback (most recent call last):\n  File x\nValueError: bad",
                        flow_run_id=run["id"], task_run_id=task["id"], level=40)
    texts = [line.text for line in evidence_of(run).lines]
    assert texts == ["Task failed", "Traceback (most recent call last):", "  File x", "ValueError: bad"]


def test_a_log_over_the_record_bound_is_read_as_head_and_tail_and_says_what_was_skipped(dalgo_runs, prefect_api,
                                                                                         settings):
    settings.SUMMARY_LOG_MAX_RECORDS = 600
    run, _ = dalgo_runs.pipeline(connections=0)
    lines = [f"12:00:00 INFO processed batch {n}" for n in range(5000)]
    lines[-1] = "Database Error in model fct_donations: division by zero"
    dalgo_runs.dbt_task(run, lines=lines)
    evidence = evidence_of(run)
    gaps = [item for item in evidence.lines if isinstance(item, LogGap)]
    texts = [item.text for item in evidence.lines if isinstance(item, LogLine)]
    assert gaps == [LogGap(lines=4400)]
    assert texts[:300] == lines[:300] and texts[300:] == lines[-300:]
    assert any("5,000 log records" in note and "4,400" in note for note in evidence.notes)
    excerpt = condense_evidence(evidence, budget_tokens=1000)
    assert excerpt.lines_in == 5000 and excerpt.skipped == 4400
    assert (5000, "ERROR Database Error in model fct_donations: division by zero") in [
        (number, text.split(" ", 1)[1]) for number, text in excerpt.lines]
    assert "4,400 lines omitted: not read, the log is too long" in excerpt.text
    assert "5,000 log records" in excerpt.text
    largest_page = max(r.json["limit"] for r in prefect_api.requests("POST", "/api/logs/filter"))
    assert largest_page == 200


def test_the_step_given_is_not_changed_the_step_returned_names_the_job_and_attempt(dalgo_runs):
    run, connections = dalgo_runs.pipeline(connections=1)
    dalgo_runs.sync_subflow(run, connections[0], failed=True)
    this_run = dalgo_runs.airbyte_job(connections[0], minutes_after_start=1)
    root = read_flow_run_from_prefect(run["id"])
    located = locate_failed_step(root)
    before = located.as_json()

    step, evidence = gather_evidence(located, root)

    assert located.as_json() == before and located.airbyte_job_id is None
    assert step.airbyte_job_id == this_run["job"]["id"] and step.attempt is not None
    assert evidence.lines
