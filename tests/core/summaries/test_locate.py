"""Locating the failed step: the first failure of the current attempt, followed into subflows, mapped to its
Dalgo task. Each upstream mistake (contract section 6) has a test here."""

import uuid

import pytest

from ddpui.clients.prefect import read_flow_run
from ddpui.core.flow_runs import flow_run_info_from_prefect
from ddpui.core.summaries.locate import locate_failed_step

pytestmark = pytest.mark.django_db


def locate(run: dict):
    """Locate the failed step of a stand-in run."""
    return locate_failed_step(flow_run_info_from_prefect(read_flow_run(run["id"])))


def test_dbt_failure_after_syncs_is_a_dbt_failure(dalgo_runs):
    run, connections = dalgo_runs.pipeline(connections=2)
    for connection_id in connections:
        dalgo_runs.sync_subflow(run, connection_id, failed=False)
    task = dalgo_runs.dbt_task(run, "dbt-run")
    step = locate(run)
    assert (step.kind, step.task_slug, step.task_run_id, step.connection_id) == ("dbt", "dbt-run", task["id"], None)
    assert step.log_scope == "task_run"


def test_failed_second_sync_knows_its_own_connection_not_the_first(dalgo_runs):
    run, connections = dalgo_runs.pipeline(connections=2)
    dalgo_runs.sync_subflow(run, connections[0], failed=False)
    child = dalgo_runs.sync_subflow(run, connections[1], failed=True)
    step = locate(run)
    assert (step.kind, step.connection_id, step.flow_run_id) == ("airbyte", connections[1], child)
    assert step.task_slug == "airbyte-sync" and step.task_seq == 2


def test_failure_several_subflows_down_is_the_innermost_task(dalgo_runs, prefect_api):
    run, _ = dalgo_runs.pipeline(connections=0, dbt_slugs=("dbt-run",))
    parent_id = run["id"]
    for depth in range(3):
        child_id = str(uuid.uuid4())
        placeholder = prefect_api.add_task_run(parent_id, name=f"level-{depth}", state_type="FAILED",
                                               child_flow_run_id=child_id)
        prefect_api.add_flow_run(id=child_id, name=f"sub-{depth}", parent_task_run_id=placeholder["id"],
                                 state_type="FAILED")
        parent_id = child_id
    prefect_api.add_task_run(parent_id, name="ok-first", state_type="COMPLETED")
    inner = prefect_api.add_task_run(parent_id, name="dbtjob-dbt-run", state_type="FAILED")
    step = locate(run)
    assert (step.task_run_id, step.flow_run_id) == (inner["id"], parent_id)
    assert step.path == ["level-0", "level-1", "level-2"]
    assert step.kind == "dbt" and step.task_slug == "dbt-run"


def test_dbt_test_failed_is_not_the_failure_when_a_later_step_failed(dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0, dbt_slugs=("dbt-test", "dbt-docs-generate"))
    dalgo_runs.dbt_task(run, "dbt-test", state_type="COMPLETED", state_name="DBT_TEST_FAILED")
    docs = dalgo_runs.dbt_task(run, "dbt-docs-generate")
    assert locate(run).task_run_id == docs["id"]


def test_flow_body_failure_is_the_flow_run_itself(dalgo_runs, prefect_api):
    run, connections = dalgo_runs.pipeline(connections=1, message="2 airbyte sync(s) failed")
    dalgo_runs.sync_subflow(run, connections[0], failed=False)
    step = locate(run)
    assert (step.kind, step.flow_run_id, step.task_run_id) == ("flow", run["id"], None)
    assert step.state_message == "2 airbyte sync(s) failed"
    assert step.log_scope == "flow_run"


def test_crash_before_any_task_is_the_flow_run(dalgo_runs):
    run, _ = dalgo_runs.pipeline(state_type="CRASHED", state_name="Crashed",
                                 message="Execution was aborted by a termination signal.")
    step = locate(run)
    assert step.kind == "flow" and step.state_name == "Crashed"


def test_only_the_current_attempts_task_runs_count(dalgo_runs, prefect_api):
    run, _ = dalgo_runs.pipeline(connections=0, dbt_slugs=("dbt-deps", "dbt-run"), run_count=2)
    prefect_api.add_task_run(run["id"], name="dbtjob-dbt-deps", state_type="FAILED", flow_run_run_count=1)
    prefect_api.add_task_run(run["id"], name="dbtjob-dbt-deps", state_type="COMPLETED", flow_run_run_count=2)
    second = prefect_api.add_task_run(run["id"], name="dbtjob-dbt-run", state_type="FAILED", flow_run_run_count=2)
    step = locate(run)
    assert step.task_run_id == second["id"] and step.task_slug == "dbt-run"
