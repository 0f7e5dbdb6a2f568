"""Locating the failed step: the first failure of the current attempt, followed into subflows, mapped to its
Dalgo task. Each upstream mistake (docs/dalgo.md) has a test here."""

import uuid

import pytest

from ddpui.clients.prefect import read_flow_run
from ddpui.core.flow_runs import flow_run_info_from_prefect
from ddpui.core.summaries.locate import FailedStep, NodeNotFound, locate_failed_step, step_for_task_run

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


def test_the_failed_paths_node_ids_are_recorded_root_excluded(dalgo_runs, prefect_api):
    run, connections = dalgo_runs.pipeline(connections=1)
    child = dalgo_runs.sync_subflow(run, connections[0], failed=True, name="airbyte-sync-trigger")
    inner = prefect_api.add_task_run(child, name="wait-for-airbyte-sync", state_type="FAILED")
    placeholder = str(read_flow_run(child).parent_task_run_id)
    step = locate(run)
    assert step.node_ids == [placeholder, child, inner["id"]]
    assert step.as_json()["node_ids"] == step.node_ids
    assert run["id"] not in step.node_ids


def test_a_subflow_that_failed_outside_its_tasks_has_its_own_ids_on_the_path(dalgo_runs):
    run, connections = dalgo_runs.pipeline(connections=1)
    child = dalgo_runs.sync_subflow(run, connections[0], failed=True)
    step = locate(run)
    assert step.kind == "airbyte" and step.node_ids == [str(read_flow_run(child).parent_task_run_id), child]


def test_any_node_at_any_depth_is_found_and_a_stranger_is_not(dalgo_runs, prefect_api):
    run, _ = dalgo_runs.pipeline(connections=0)
    parent_id, placeholders, children = run["id"], [], []
    for depth in range(2):
        child_id = str(uuid.uuid4())
        placeholder = prefect_api.add_task_run(parent_id, name=f"shellop-level-{depth}", child_flow_run_id=child_id)
        prefect_api.add_flow_run(id=child_id, name=f"sub-{depth}", parent_task_run_id=placeholder["id"])
        placeholders.append(placeholder["id"])
        children.append(child_id)
        parent_id = child_id
    deep = prefect_api.add_task_run(parent_id, name="dbtjob-dbt-run", state_type="COMPLETED")
    root = flow_run_info_from_prefect(read_flow_run(run["id"]))

    step = step_for_task_run(root, deep["id"])
    assert (step.task_run_id, step.flow_run_id, step.log_scope) == (deep["id"], children[1], "task_run")
    assert step.node_ids == [placeholders[0], children[0], placeholders[1], children[1], deep["id"]]
    by_placeholder, by_subflow = step_for_task_run(root, placeholders[1]), step_for_task_run(root, children[1])
    assert by_placeholder.key == by_subflow.key == f"task:{children[1]}"

    other_run, _ = dalgo_runs.pipeline(connections=0)
    stranger = dalgo_runs.dbt_task(other_run)
    for node_id in (stranger["id"], other_run["id"], str(uuid.uuid4())):
        with pytest.raises(NodeNotFound):
            step_for_task_run(root, node_id)


def test_a_dbt_test_failed_runs_step_is_its_failed_dbt_tests(dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0, dbt_slugs=("dbt-run", "dbt-test"), state_type="COMPLETED",
                                 state_name="DBT_TEST_FAILED")
    dalgo_runs.dbt_task(run, "dbt-run", failed=False)
    tests = dalgo_runs.dbt_task(run, "dbt-test", state_type="COMPLETED", state_name="DBT_TEST_FAILED")
    step = locate(run)
    assert (step.task_run_id, step.kind, step.task_slug) == (tests["id"], "dbt", "dbt-test")


def test_failed_dbt_tests_are_not_the_step_of_a_run_whose_body_failed(dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0, dbt_slugs=("dbt-test",), message="the flow body raised")
    dalgo_runs.dbt_task(run, "dbt-test", state_type="COMPLETED", state_name="DBT_TEST_FAILED")
    step = locate(run)
    assert step.kind == "flow" and step.state_message == "the flow body raised"


def test_a_stored_failed_step_reads_back_as_the_same_step(dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run, "dbt-run")
    step = locate(run)
    stored = step.as_json()

    assert FailedStep.from_json(stored) == step
    assert FailedStep.from_json({**stored, "a_key_from_a_newer_version": 1}) == step
