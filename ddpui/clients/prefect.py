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
    FlowRunFilterStateName,
    FlowRunFilterStateType,
    LogFilter,
    LogFilterFlowRunId,
    LogFilterTaskRunId,
)
from prefect.client.schemas.objects import FlowRun, StateType, TaskRun
from prefect.client.schemas.sorting import FlowRunSort, LogSort, TaskRunSort
from prefect.exceptions import ObjectNotFound

from ddpui.clients.deadline import DeadlineTransport

# The server rejects a larger page (limit 201 is a 422).
LOG_PAGE_SIZE = 200


class PrefectError(Exception):
    """Prefect could not be reached or answered with an error."""


class FlowRunNotFound(PrefectError):
    """Prefect does not know this flow run."""


# prefect-client reads its settings only from its own environment variables or profile, when it first uses
# them (not at import): this module, the only one that builds a Prefect client, hands it ours. A value the
# operator exported for prefect-client itself wins.
os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", str(settings.PREFECT_CLIENT_MAX_RETRIES))

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


def log_filter_of(*, flow_run_id: str | None = None, task_run_id: str | None = None) -> LogFilter:
    """The filter for a task run's logs, else a flow run's."""
    if task_run_id:
        return LogFilter(task_run_id=LogFilterTaskRunId(any_=[UUID(str(task_run_id))]))
    return LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(str(flow_run_id))]))


def read_log_records(
    client: SyncPrefectClient, log_filter: LogFilter, *, limit: int, offset: int, sort: LogSort
) -> list[dict]:
    """One page of logs as the API's JSON records (message, level, timestamp, ...). Not parsed into
    prefect-client's Log objects: their three datetimes cost ~0.4 ms a record, 8 s for 20,000 records."""
    body = {"logs": log_filter.model_dump(mode="json"), "limit": limit, "offset": offset, "sort": sort.value}
    return client.request("POST", "/logs/filter", json=body).json()


def log_pages(
    log_filter: LogFilter, *, offset: int = 0, max_records: int, newest_first: bool = False
) -> Iterator[list[dict]]:
    """Pages of log records (oldest first, or newest first), from ``offset`` until ``max_records`` or the end.

    A generator, so a caller holds one page at a time: a step can log a million lines."""
    sort = LogSort.TIMESTAMP_DESC if newest_first else LogSort.TIMESTAMP_ASC
    read = 0
    with prefect_client() as client:
        while read < max_records:
            limit = min(LOG_PAGE_SIZE, max_records - read)
            page = read_log_records(client, log_filter, limit=limit, offset=offset + read, sort=sort)
            read += len(page)
            if page:
                yield page
            if len(page) < limit:
                return


def count_logs(log_filter: LogFilter) -> int:
    """How many log records match. Prefect's API has no count of logs: one page answers for a short log; a
    long one is measured with one-record reads at growing offsets, then a binary search (about 2 log2(n/200)
    reads, ~30 for a million records)."""
    with prefect_client() as client:
        first = read_log_records(client, log_filter, limit=LOG_PAGE_SIZE, offset=0, sort=LogSort.TIMESTAMP_ASC)
        if len(first) < LOG_PAGE_SIZE:
            return len(first)
        present, absent = LOG_PAGE_SIZE, 2 * LOG_PAGE_SIZE  # counts: `present` records exist, `absent` do not
        while has_log_at(client, log_filter, absent - 1):
            present, absent = absent, 2 * absent
        while absent - present > 1:
            middle = (present + absent) // 2
            if has_log_at(client, log_filter, middle - 1):
                present = middle
            else:
                absent = middle
        return present


def has_log_at(client: SyncPrefectClient, log_filter: LogFilter, offset: int) -> bool:
    """Whether a matching record exists at ``offset`` (0-based, timestamp order)."""
    return bool(read_log_records(client, log_filter, limit=1, offset=offset, sort=LogSort.TIMESTAMP_ASC))


def read_ended_root_flow_runs(
    *,
    deployment_ids: list[str],
    ended_after: datetime,
    state_types: list[StateType] | None = None,
    state_names: list[str] | None = None,
    limit: int = 200,
) -> list[FlowRun]:
    """Root flow runs (no parent task run) of these deployments that ended after a time, in these state types
    or (e.g. Dalgo's DBT_TEST_FAILED, a COMPLETED type) with these state names."""
    if not deployment_ids:
        return []
    state = FlowRunFilterState(
        type=FlowRunFilterStateType(any_=state_types) if state_types else None,
        name=FlowRunFilterStateName(any_=state_names) if state_names else None,
    )
    with prefect_client() as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True),
                state=state,
                end_time=FlowRunFilterEndTime(after_=ended_after),
            ),
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[UUID(d) for d in deployment_ids])),
            sort=FlowRunSort.END_TIME_DESC,
            limit=limit,
        )
