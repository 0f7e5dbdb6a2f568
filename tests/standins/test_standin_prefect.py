"""The Prefect stand-in read through the real prefect-client 3.9.0 over sockets."""

import asyncio
import datetime
import time
import uuid

import httpx
import pytest
from prefect.client.orchestration import PrefectClient, SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterEndTime,
    FlowRunFilterId,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
    LogFilterTaskRunId,
    TaskRunFilter,
    TaskRunFilterId,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort, LogSort, TaskRunSort
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL, temporary_settings

PAGE = 200
MAX_PAGES = 20


def read_all_logs(client: SyncPrefectClient, log_filter: LogFilter) -> list:
    """Page through logs the way our backend must: limit 200, growing offset, bounded."""
    logs = []
    for page_number in range(MAX_PAGES):
        page = client.read_logs(log_filter, limit=PAGE, offset=page_number * PAGE, sort=LogSort.TIMESTAMP_ASC)
        logs.extend(page)
        if len(page) < PAGE:
            break
    return logs


def by_flow_run(flow_run_id: str) -> FlowRunFilter:
    """A flow run filter on one id."""
    return FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))


def test_read_flow_run(prefect_standin):
    """read_flow_run returns every field our handler reads."""
    deployment_id = str(uuid.uuid4())
    stored = prefect_standin.add_flow_run(
        name="tidy-walrus",
        state_type="CRASHED",
        message="Execution was aborted by a termination signal.",
        deployment_id=deployment_id,
        parameters={"config": {"org_slug": "ngo", "tasks": []}},
        run_count=2,
    )
    with SyncPrefectClient(prefect_standin.api_url) as client:
        flow_run = client.read_flow_run(stored["id"])
    assert flow_run.name == "tidy-walrus"
    assert flow_run.state_type == StateType.CRASHED
    assert flow_run.state_name == "Crashed"
    assert flow_run.state.message == "Execution was aborted by a termination signal."
    assert str(flow_run.state.state_details.flow_run_id) == stored["id"]
    assert str(flow_run.deployment_id) == deployment_id
    assert flow_run.parameters["config"]["org_slug"] == "ngo"
    assert flow_run.run_count == 2
    assert flow_run.parent_task_run_id is None
    assert flow_run.start_time < flow_run.end_time


def test_unknown_flow_run_is_object_not_found(prefect_standin):
    """An unknown id is Prefect's 404 body, which the client turns into ObjectNotFound."""
    with SyncPrefectClient(prefect_standin.api_url) as client:
        with pytest.raises(ObjectNotFound):
            client.read_flow_run(uuid.uuid4())
    response = httpx.get(f"{prefect_standin.api_url}/flow_runs/{uuid.uuid4()}")
    assert (response.status_code, response.json()) == (404, {"detail": "Flow run not found"})
    assert httpx.get(f"{prefect_standin.api_url}/flow_runs/not-a-uuid").status_code == 422


def test_get_client_reads_url_from_temporary_settings(prefect_standin):
    """get_client finds the stand-in through temporary_settings."""
    stored = prefect_standin.add_flow_run(name="via-settings")
    # Prefect freezes its settings at import: changing os.environ afterwards has no effect.
    with temporary_settings({PREFECT_API_URL: prefect_standin.api_url}):
        with get_client(sync_client=True) as client:
            assert client.read_flow_run(stored["id"]).name == "via-settings"
            assert client.api_version() == prefect_standin.version
            assert client.api_healthcheck() is None


def test_task_runs_of_a_flow_run_with_run_count_and_subflow(prefect_standin):
    """Task runs filter by flow run, keep their try count and point at subflows."""
    flow_run = prefect_standin.add_flow_run(run_count=2)
    child = prefect_standin.add_flow_run(name="dbtjob-dbt-run", state_type="FAILED")
    first_try = prefect_standin.add_task_run(flow_run["id"], name="sync", state_type="FAILED", flow_run_run_count=1)
    sync = prefect_standin.add_task_run(flow_run["id"], name="sync", flow_run_run_count=2)
    placeholder = prefect_standin.add_task_run(
        flow_run["id"], name="dbtjob-dbt-run", state_type="FAILED", child_flow_run_id=child["id"], flow_run_run_count=2
    )
    prefect_standin.add_task_run(prefect_standin.add_flow_run()["id"], name="other run")
    with SyncPrefectClient(prefect_standin.api_url) as client:
        tasks = client.read_task_runs(flow_run_filter=by_flow_run(flow_run["id"]), sort=TaskRunSort.EXPECTED_START_TIME_ASC)
        one = client.read_task_run(placeholder["id"])
        by_id = client.read_task_runs(task_run_filter=TaskRunFilter(id=TaskRunFilterId(any_=[sync["id"]])))
        with pytest.raises(ObjectNotFound):
            client.read_task_run(uuid.uuid4())
    assert [str(t.id) for t in tasks] == [first_try["id"], sync["id"], placeholder["id"]]
    current = [t for t in tasks if t.flow_run_run_count == 2]
    assert [t.name for t in current] == ["sync", "dbtjob-dbt-run"]
    assert str(current[1].state.state_details.child_flow_run_id) == child["id"]
    assert one.task_key and one.dynamic_key == "0" and one.state_type == StateType.FAILED
    assert [str(t.id) for t in by_id] == [sync["id"]]


def test_flow_run_filters_sort_and_paging(prefect_standin):
    """The flow run filters a failure sweep needs, with sort, offset and limit."""
    now = datetime.datetime.now(datetime.timezone.utc)
    deployment_id = str(uuid.uuid4())
    parent_task_id = str(uuid.uuid4())
    prefect_standin.add_flow_run(name="old", deployment_id=deployment_id, end_time=now - datetime.timedelta(days=2), start_time=now - datetime.timedelta(days=2, minutes=5))
    prefect_standin.add_flow_run(name="new", deployment_id=deployment_id)
    prefect_standin.add_flow_run(name="done", state_type="COMPLETED", deployment_id=deployment_id)
    child = prefect_standin.add_flow_run(name="child", parent_task_run_id=parent_task_id)
    with SyncPrefectClient(prefect_standin.api_url) as client:
        failed_recent = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED])),
                end_time=FlowRunFilterEndTime(after_=now - datetime.timedelta(hours=1)),
                parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
            ),
            sort=FlowRunSort.START_TIME_DESC,
        )
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_task_run_id=FlowRunFilterParentTaskRunId(any_=[parent_task_id]))
        )
        by_name = client.read_flow_runs(sort=FlowRunSort.NAME_ASC, limit=2, offset=1)
        with pytest.raises(PrefectHTTPStatusError) as too_many:
            client.read_flow_runs(limit=PAGE + 1)
    assert [r.name for r in failed_recent] == ["new"]
    assert [str(r.id) for r in children] == [child["id"]]
    assert [r.name for r in by_name] == ["done", "new"]
    assert too_many.value.response.status_code == 422


def test_logs_page_at_limit_200_and_limit_201_is_422(prefect_standin):
    """Logs page at 200 a call; asking for more is the server's 422."""
    flow_run = prefect_standin.add_flow_run()
    task = prefect_standin.add_task_run(flow_run["id"], state_type="FAILED")
    prefect_standin.add_logs([f"line {i}" for i in range(1003)], flow_run_id=flow_run["id"], task_run_id=task["id"])
    prefect_standin.add_log("flow-level line", flow_run_id=flow_run["id"], level="ERROR")
    with SyncPrefectClient(prefect_standin.api_url) as client:
        task_logs = read_all_logs(client, LogFilter(task_run_id=LogFilterTaskRunId(any_=[task["id"]])))
        flow_logs = read_all_logs(client, LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run["id"]])))
        with pytest.raises(PrefectHTTPStatusError) as too_many:
            client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run["id"]])), limit=PAGE + 1)
    assert [log.message for log in task_logs] == [f"line {i}" for i in range(1003)]
    assert task_logs[0].level == 20 and str(task_logs[0].task_run_id) == task["id"] and task_logs[0].name
    assert len(flow_logs) == 1004
    assert flow_logs[-1].level == 40 and flow_logs[-1].task_run_id is None
    assert too_many.value.response.status_code == 422
    assert too_many.value.response.json() == {"detail": "Invalid limit: must be less than or equal to 200."}
    log_pages = prefect_standin.requests("POST", "/api/logs/filter")
    assert [r.json["offset"] for r in log_pages[:6]] == [0, 200, 400, 600, 800, 1000]


def test_flow_level_logs_with_is_null_over_raw_http(prefect_standin):
    """task_run_id is_null_ selects the lines logged outside any task."""
    flow_run = prefect_standin.add_flow_run()
    task = prefect_standin.add_task_run(flow_run["id"])
    prefect_standin.add_log("in task", flow_run_id=flow_run["id"], task_run_id=task["id"])
    prefect_standin.add_log("in flow body", flow_run_id=flow_run["id"])
    body = {"logs": {"flow_run_id": {"any_": [flow_run["id"]]}, "task_run_id": {"is_null_": True}}, "sort": "TIMESTAMP_DESC"}
    response = httpx.post(f"{prefect_standin.api_url}/logs/filter", json=body)
    assert [log["message"] for log in response.json()] == ["in flow body"]


def test_late_logs_appear_after_visible_after(prefect_standin):
    """Lines added with visible_after are missing from an early read and present later."""
    flow_run = prefect_standin.add_flow_run()
    prefect_standin.add_logs(["early"], flow_run_id=flow_run["id"])
    prefect_standin.add_logs([f"late {i}" for i in range(5)], flow_run_id=flow_run["id"], visible_after=0.4)
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run["id"]]))
    with SyncPrefectClient(prefect_standin.api_url) as client:
        at_once = client.read_logs(log_filter)
        time.sleep(0.5)
        later = client.read_logs(log_filter)
    assert [log.message for log in at_once] == ["early"]
    assert len(later) == 6


def test_async_client_reads_the_same_run(prefect_standin):
    """The async PrefectClient reads the same shapes."""
    stored = prefect_standin.add_flow_run(name="async-run")

    async def read():
        """Read the run with the async client."""
        async with PrefectClient(prefect_standin.api_url) as client:
            return await client.read_flow_run(stored["id"])

    assert asyncio.run(read()).name == "async-run"


def test_client_asks_for_csrf_token_once_then_stops(prefect_standin):
    """The client probes /csrf-token once, gets 'disabled', and stops asking."""
    flow_run = prefect_standin.add_flow_run()
    with SyncPrefectClient(prefect_standin.api_url) as client:
        client.read_task_runs(flow_run_filter=by_flow_run(flow_run["id"]))
        client.read_task_runs(flow_run_filter=by_flow_run(flow_run["id"]))
    assert len(prefect_standin.requests("GET", "/api/csrf-token")) == 1


def test_client_retries_503_with_retry_after(prefect_standin):
    """prefect-client retries a 503 by itself, so a fault must outlast its retries to be seen."""
    stored = prefect_standin.add_flow_run()
    prefect_standin.add_fault(f"/api/flow_runs/{stored['id']}", status=503, headers={"Retry-After": "0"}, times=2)
    with SyncPrefectClient(prefect_standin.api_url) as client:
        assert str(client.read_flow_run(stored["id"]).id) == stored["id"]
    assert len(prefect_standin.requests("GET", f"/api/flow_runs/{stored['id']}")) == 3


def test_unsupported_filter_fails_loudly(prefect_standin):
    """A filter the stand-in cannot evaluate is a 422, never silently ignored."""
    body = {"flow_runs": {"work_pool_name": {"any_": ["x"]}}}
    response = httpx.post(f"{prefect_standin.api_url}/flow_runs/filter", json=body)
    assert response.status_code == 422
    assert "does not support" in response.json()["detail"]


def test_graph_v2_shows_subflow_as_flow_run_node(prefect_standin):
    """graph-v2 shows task runs, and a subflow as its flow run."""
    flow_run = prefect_standin.add_flow_run()
    child = prefect_standin.add_flow_run(name="shellop-git-pull")
    task = prefect_standin.add_task_run(flow_run["id"], name="airbyte-sync")
    prefect_standin.add_task_run(flow_run["id"], name="placeholder", state_type="FAILED", child_flow_run_id=child["id"])
    graph = httpx.get(f"{prefect_standin.api_url}/flow_runs/{flow_run['id']}/graph-v2").json()
    nodes = dict((node_id, node) for node_id, node in graph["nodes"])
    assert nodes[task["id"]]["kind"] == "task-run"
    assert nodes[child["id"]]["kind"] == "flow-run"
    assert nodes[child["id"]]["label"] == "shellop-git-pull"
    assert set(nodes[child["id"]]) >= {"id", "label", "state_type", "start_time", "end_time", "parents", "children"}
