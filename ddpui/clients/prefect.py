"""The only code that speaks to Prefect: reads flow runs, task runs and logs through prefect-client."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

import httpx
from django.conf import settings
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterId,
    FlowRunFilterParentTaskRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
    LogFilterTaskRunId,
)
from prefect.client.schemas.objects import FlowRun, Log, StateType, TaskRun
from prefect.client.schemas.sorting import FlowRunSort, LogSort, TaskRunSort
from prefect.exceptions import ObjectNotFound

from ddpui.clients.deadline import DeadlineTransport

# The server rejects a larger page (limit 201 is a 422).
LOG_PAGE_SIZE = 200
# A hard stop for one step's logs: far beyond any real task, small enough to bound memory and time.
MAX_LOG_PAGES = 5000


class PrefectError(Exception):
    """Prefect could not be reached or answered with an error."""


class FlowRunNotFound(PrefectError):
    """Prefect does not know this flow run."""


# One open client per process and API URL: building one costs an SSL context and a CSRF probe, and a
# summary makes a dozen reads. Keyed by pid because the qcluster forks its workers.
OPEN_CLIENTS: dict[tuple[int, str, float], SyncPrefectClient] = {}


def shared_client() -> SyncPrefectClient:
    """This process's open SyncPrefectClient for PREFECT_API_URL. Each request ends within
    PREFECT_HTTP_TIMEOUT_SECONDS of wall-clock time (however slowly Prefect answers), and a request cut by that
    deadline is not retried by prefect-client."""
    timeout = settings.PREFECT_HTTP_TIMEOUT_SECONDS
    key = (os.getpid(), settings.PREFECT_API_URL, timeout)
    client = OPEN_CLIENTS.get(key)
    if client is None:
        client = SyncPrefectClient(
            settings.PREFECT_API_URL,
            httpx_settings={"timeout": timeout, "transport": DeadlineTransport(timeout, retries=3)},
        )
        client.__enter__()
        OPEN_CLIENTS[key] = client
    return client


@contextmanager
def prefect_client() -> Iterator[SyncPrefectClient]:
    """The shared SyncPrefectClient on PREFECT_API_URL; transport errors surface as PrefectError."""
    try:
        yield shared_client()
    except ObjectNotFound as exc:
        raise FlowRunNotFound(str(exc)) from exc
    except (httpx.HTTPError, OSError) as exc:
        raise PrefectError(f"Prefect API at {settings.PREFECT_API_URL} failed: {exc}") from exc


def read_flow_run(flow_run_id: str) -> FlowRun:
    """The flow run with its state, parameters, times and run_count."""
    with prefect_client() as client:
        return client.read_flow_run(UUID(str(flow_run_id)))


def read_task_runs(flow_run_id: str) -> list[TaskRun]:
    """Every task run of a flow run (all its attempts), in expected-start order."""
    runs: list[TaskRun] = []
    with prefect_client() as client:
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(flow_run_id))])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=LOG_PAGE_SIZE,
                offset=len(runs),
            )
            runs.extend(page)
            if len(page) < LOG_PAGE_SIZE:
                return runs


def read_child_flow_runs(parent_task_run_id: str) -> list[FlowRun]:
    """The subflow runs started by one placeholder task run."""
    with prefect_client() as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_task_run_id=FlowRunFilterParentTaskRunId(any_=[UUID(str(parent_task_run_id))])
            ),
            sort=FlowRunSort.START_TIME_DESC,
        )


def read_logs(*, flow_run_id: str | None = None, task_run_id: str | None = None) -> list[Log]:
    """All logs of a task run, or of a flow run, oldest first, read page by page."""
    if task_run_id:
        log_filter = LogFilter(task_run_id=LogFilterTaskRunId(any_=[UUID(str(task_run_id))]))
    else:
        log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(str(flow_run_id))]))
    logs: list[Log] = []
    with prefect_client() as client:
        for _ in range(MAX_LOG_PAGES):
            page = client.read_logs(
                log_filter=log_filter, limit=LOG_PAGE_SIZE, offset=len(logs), sort=LogSort.TIMESTAMP_ASC
            )
            logs.extend(page)
            if len(page) < LOG_PAGE_SIZE:
                break
    return logs


def read_ended_root_flow_runs(
    *, deployment_ids: list[str], state_types: list[StateType], ended_after: datetime, limit: int = 200
) -> list[FlowRun]:
    """Root flow runs (no parent task run) of these deployments that ended in these states after a time."""
    if not deployment_ids:
        return []
    with prefect_client() as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=state_types)),
                end_time=FlowRunFilterEndTime(after_=ended_after),
            ),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[UUID(d) for d in deployment_ids])),
            sort=FlowRunSort.END_TIME_DESC,
            limit=limit,
        )
