"""Evidence of the failed step: paged, complete even when logs arrive late, level and timestamp kept."""

import pytest

from ddpui.clients.prefect import read_flow_run
from ddpui.core.flow_runs import flow_run_info_from_prefect
from ddpui.core.summaries.evidence import gather_evidence
from ddpui.core.summaries.locate import locate_failed_step

pytestmark = pytest.mark.django_db


def evidence_of(run: dict):
    """Locate and gather the evidence of a stand-in run."""
    root = flow_run_info_from_prefect(read_flow_run(run["id"]))
    return gather_evidence(locate_failed_step(root), root)


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
