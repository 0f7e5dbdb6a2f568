"""A fake Prefect 3 REST API (the read side our backend uses), good enough for prefect-client's
SyncPrefectClient and PrefectClient: flow runs, task runs, logs and the run graph. Its store and endpoints;
the `/filter` bodies are evaluated by standins.prefect_filters."""

import datetime
import json
import threading
import time
import uuid
from typing import Any, Iterable

from standins.prefect_filters import (
    as_datetime,
    check_log_read,
    invalid_request,
    match_logs,
    page,
    select_flow_runs,
    select_task_runs,
    sort_logs,
)
from standins.server import RecordedRequest, StandinServer

UUID_RE = r"[^/]+"
DEFAULT_LIMIT = 200
SERVER_VERSION = "3.9.1"

# State type -> the state name Prefect gives a state of that type by default.
DEFAULT_STATE_NAMES = {
    "SCHEDULED": "Scheduled",
    "PENDING": "Pending",
    "RUNNING": "Running",
    "COMPLETED": "Completed",
    "FAILED": "Failed",
    "CANCELLED": "Cancelled",
    "CRASHED": "Crashed",
    "PAUSED": "Paused",
    "CANCELLING": "Cancelling",
}
TERMINAL_STATE_TYPES = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}

LOG_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

# The retry policy of a run that may not retry, as the server serializes it; flow and task runs add their own keys.
RETRIES_OFF = {"max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0, "retry_delay": 0}


def utcnow() -> datetime.datetime:
    """Timezone-aware now in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def _as_id(value: Any) -> str | None:
    """An id as a string (fixtures may give UUIDs), keeping None."""
    return None if value is None else str(value)


def _check_uuid(value: str, loc: str) -> str:
    """The id in canonical form, or Prefect's 422 for a malformed one."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise invalid_request(["path", loc], "Input should be a valid UUID", value, None) from None


def make_state(
    state_type: str,
    name: str | None = None,
    message: str | None = None,
    *,
    timestamp: datetime.datetime | None = None,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    child_flow_run_id: str | None = None,
) -> dict:
    """A State object as the server serializes it."""
    state_type = state_type.upper()
    return {
        "id": str(uuid.uuid4()),
        "type": state_type,
        "name": name or DEFAULT_STATE_NAMES[state_type],
        "timestamp": timestamp or utcnow(),
        "message": message,
        "data": None,
        "state_details": {
            "flow_run_id": flow_run_id,
            "task_run_id": task_run_id,
            "child_flow_run_id": child_flow_run_id,
            "scheduled_time": None,
            "cache_key": None,
            "cache_expiration": None,
            "deferred": False,
            "untrackable_result": False,
            "pause_timeout": None,
            "pause_reschedule": False,
            "pause_key": None,
            "run_input_keyset": None,
            "refresh_cache": None,
            "retriable": None,
            "transition_id": str(uuid.uuid4()),
            "task_parameters_id": None,
            "traceparent": None,
        },
    }


def _state_fields(state: dict) -> dict:
    """A run record's keys that follow its current state: the state and its id, type and name."""
    return {"state_id": state["id"], "state_type": state["type"], "state_name": state["name"], "state": state}


def make_run(
    run_id: str,
    name: str,
    state_type: str,
    state_name: str | None,
    message: str | None,
    *,
    start_time: datetime.datetime,
    end_time: Any,
    default_end: datetime.datetime,
    open_time: datetime.datetime,
    expected_start_time: Any,
    run_count: int,
    tags: Iterable[str],
    state_details: dict,
    fields: dict,
    overrides: dict,
) -> dict:
    """A flow run or task run record as the server serializes it: the keys both share, then `fields` (the
    kind's own keys), then `overrides`. A run in a terminal state given no end time ends at `default_end`;
    until a run ends, `open_time` stands for its end (its state's time, `updated` and run time).
    `state_details` are make_state's run ids."""
    state_type = state_type.upper()
    if end_time is None and state_type in TERMINAL_STATE_TYPES:
        end_time = default_end
    end_time = as_datetime(end_time)
    last = end_time or open_time
    state = make_state(state_type, state_name, message, timestamp=last, **state_details)
    run_time = (last - start_time).total_seconds()
    record = {
        "id": run_id,
        "created": start_time,
        "updated": last,
        "name": name,
        "tags": list(tags),
        "labels": {},
        **_state_fields(state),
        "run_count": run_count,
        "expected_start_time": as_datetime(expected_start_time) or start_time,
        "next_scheduled_start_time": None,
        "start_time": start_time,
        "end_time": end_time,
        "total_run_time": run_time,
        "estimated_run_time": run_time,
        "estimated_start_time_delta": 0.0,
        **fields,
    }
    record.update(overrides)
    return record


def _public(record: dict) -> dict:
    """Drop the stand-in's private bookkeeping keys (those starting with "_")."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


class PrefectStandin(StandinServer):
    """Fake Prefect 3 server: fill its store with add_flow_run / add_task_run / add_logs,
    then point prefect-client at `api_url`."""

    def __init__(
        self,
        port: int = 0,
        *,
        latency: float = 0.0,
        version: str = SERVER_VERSION,
        default_limit: int = DEFAULT_LIMIT,
    ):
        """A stand-in Prefect API server holding flow runs, task runs and logs the test adds."""
        super().__init__(port, latency=latency)
        self.version = version
        self.default_limit = default_limit
        self._store_lock = threading.Lock()
        self._flow_runs: dict[str, dict] = {}
        self._task_runs: dict[str, dict] = {}
        self._logs: list[dict] = []
        # A paged read of a million-line log asks the same query hundreds of times: its filtered, sorted
        # result (and the filter's matches, for the same filter in another order) is kept while no log is
        # added and every stored log is visible.
        self._log_queries: dict[str, tuple[int, list[dict]]] = {}
        self._logs_visible_from = 0.0  # monotonic time from which every stored log is visible
        self._register_routes()

    @property
    def api_url(self) -> str:
        """The value for PREFECT_API_URL / SyncPrefectClient(api=...)."""
        return f"{self.url}/api"

    def _register_routes(self) -> None:
        """The Prefect endpoints our client calls, and a few probes clients make first."""
        self.route("GET", r"/api/health", lambda req: (200, True))
        self.route("GET", r"/api/ready", lambda req: (200, {"message": "OK"}))
        self.route("GET", r"/api/hello", lambda req: (200, "👋"))
        self.route("GET", r"/api/admin/version", lambda req: (200, self.version))
        self.route("GET", r"/api/csrf-token", self._csrf_token)
        self.route("POST", r"/api/flow_runs/filter", self._filter_flow_runs)
        self.route("GET", rf"/api/flow_runs/(?P<id>{UUID_RE})", self._read_flow_run)
        self.route("GET", rf"/api/flow_runs/(?P<id>{UUID_RE})/graph-v2", self._graph)
        self.route("POST", r"/api/task_runs/filter", self._filter_task_runs)
        self.route("GET", rf"/api/task_runs/(?P<id>{UUID_RE})", self._read_task_run)
        self.route("POST", r"/api/logs/filter", self._filter_logs)

    # store -----------------------------------------------------------------------------

    def add_flow_run(
        self,
        *,
        id: Any = None,
        name: str = "standin-flow-run",
        state_type: str = "FAILED",
        state_name: str | None = None,
        message: str | None = None,
        flow_id: Any = None,
        deployment_id: Any = None,
        parent_task_run_id: Any = None,
        parameters: dict | None = None,
        run_count: int = 1,
        start_time: datetime.datetime | None = None,
        end_time: datetime.datetime | None = None,
        expected_start_time: datetime.datetime | None = None,
        tags: Iterable[str] = (),
        **overrides: Any,
    ) -> dict:
        """Store a flow run and return its wire form. Times default to a run that started
        a minute ago and, when the state is terminal, ended now."""
        now = utcnow()
        run_id = _as_id(id) or str(uuid.uuid4())
        start_time = as_datetime(start_time) or now - datetime.timedelta(minutes=1)
        fields = {
            "flow_id": _as_id(flow_id) or str(uuid.uuid4()),
            "deployment_id": _as_id(deployment_id),
            "deployment_version": None,
            "work_queue_id": None,
            "work_queue_name": "default" if deployment_id else None,
            "flow_version": None,
            "parameters": parameters or {},
            "idempotency_key": None,
            "context": {},
            "empirical_policy": {**RETRIES_OFF, "pause_keys": [], "resuming": False, "retry_type": None},
            "parent_task_run_id": _as_id(parent_task_run_id),
            "auto_scheduled": False,
            "infrastructure_document_id": None,
            "infrastructure_pid": None,
            "created_by": None,
            "work_pool_id": None,
            "work_pool_name": None,
            "job_variables": {},
        }
        record = make_run(
            run_id,
            name,
            state_type,
            state_name,
            message,
            start_time=start_time,
            end_time=end_time,
            default_end=now,
            open_time=now,
            expected_start_time=expected_start_time,
            run_count=run_count,
            tags=tags,
            state_details={"flow_run_id": run_id},
            fields=fields,
            overrides=overrides,
        )
        return self._store_run(self._flow_runs, record)

    def add_task_run(
        self,
        flow_run_id: Any,
        *,
        id: Any = None,
        name: str | None = None,
        task_key: str | None = None,
        dynamic_key: str = "0",
        state_type: str = "COMPLETED",
        state_name: str | None = None,
        message: str | None = None,
        child_flow_run_id: Any = None,
        flow_run_run_count: int = 1,
        run_count: int = 1,
        start_time: datetime.datetime | None = None,
        end_time: datetime.datetime | None = None,
        expected_start_time: datetime.datetime | None = None,
        tags: Iterable[str] = (),
        **overrides: Any,
    ) -> dict:
        """Store a task run of `flow_run_id` and return its wire form. A subflow's placeholder
        task run is one with `child_flow_run_id` set. Each call without times starts one
        second after the previous task run of the same flow run, so order is creation order."""
        flow_run_id = _as_id(flow_run_id)
        run_id = _as_id(id) or str(uuid.uuid4())
        name = name or f"task-{len(self._task_runs_of(flow_run_id))}"
        task_key = task_key or f"{name}-{uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:8]}"
        if start_time is None:
            start_time = self._next_task_start(flow_run_id)
        start_time = as_datetime(start_time)
        fields = {
            "flow_run_id": flow_run_id,
            "task_key": task_key,
            "dynamic_key": dynamic_key,
            "cache_key": None,
            "cache_expiration": None,
            "task_version": None,
            "empirical_policy": {**RETRIES_OFF, "retry_jitter_factor": None},
            "task_inputs": {},
            "flow_run_run_count": flow_run_run_count,
        }
        record = make_run(
            run_id,
            name,
            state_type,
            state_name,
            message,
            start_time=start_time,
            end_time=end_time,
            default_end=start_time + datetime.timedelta(milliseconds=500),
            open_time=start_time,
            expected_start_time=expected_start_time,
            run_count=run_count,
            tags=tags,
            state_details={
                "task_run_id": run_id,
                "flow_run_id": flow_run_id,
                "child_flow_run_id": _as_id(child_flow_run_id),
            },
            fields=fields,
            overrides=overrides,
        )
        return self._store_run(self._task_runs, record)

    def add_log(
        self,
        message: str,
        *,
        flow_run_id: Any,
        task_run_id: Any = None,
        level: int | str = 20,
        timestamp: datetime.datetime | None = None,
        name: str | None = None,
        visible_after: float = 0.0,
    ) -> dict:
        """Store one log line; it shows in /logs/filter only `visible_after` seconds from now."""
        return self.add_logs(
            [message],
            flow_run_id=flow_run_id,
            task_run_id=task_run_id,
            level=level,
            start=timestamp,
            name=name,
            visible_after=visible_after,
        )[0]

    def add_logs(
        self,
        lines: Iterable[str | dict],
        *,
        flow_run_id: Any,
        task_run_id: Any = None,
        level: int | str = 20,
        start: datetime.datetime | None = None,
        step: datetime.timedelta = datetime.timedelta(milliseconds=1),
        name: str | None = None,
        visible_after: float = 0.0,
    ) -> list[dict]:
        """Store many log lines, `step` apart from `start` (default: now). A line may be a
        dict overriding message/level/timestamp/name. Returns their wire forms."""
        with self._store_lock:
            last = self._logs[-1]["timestamp"] + step if self._logs else None
        # Without a start, lines follow the last stored line so adding order is time order.
        timestamp = as_datetime(start)
        if timestamp is None:
            timestamp = utcnow() if last is None else max(utcnow(), last)
        visible_at = time.monotonic() + visible_after
        default_name = name or ("prefect.task_runs" if task_run_id else "prefect.flow_runs")
        stored = []
        for line in lines:
            item = {"message": line} if isinstance(line, str) else dict(line)
            line_level = item.get("level", level)
            record = {
                "id": str(uuid.uuid4()),
                "created": timestamp,
                "updated": timestamp,
                "name": item.get("name", default_name),
                "level": LOG_LEVELS[line_level.upper()] if isinstance(line_level, str) else line_level,
                "message": item["message"],
                "timestamp": as_datetime(item.get("timestamp")) or timestamp,
                "flow_run_id": _as_id(flow_run_id),
                "task_run_id": _as_id(item.get("task_run_id", task_run_id)),
                "_visible_at": visible_at,
            }
            stored.append(record)
            timestamp += step
        with self._store_lock:
            self._logs.extend(stored)
            self._logs_visible_from = max(self._logs_visible_from, visible_at)
        return [_public(r) for r in stored]

    def set_flow_run_state(
        self, flow_run_id: Any, state_type: str, state_name: str | None = None, message: str | None = None
    ) -> dict:
        """Move a stored flow run to a new state (ends it when the state is terminal)."""
        with self._store_lock:
            record = self._flow_runs[_as_id(flow_run_id)]
            now = utcnow()
            state = make_state(state_type, state_name, message, timestamp=now, flow_run_id=record["id"])
            record.update(_state_fields(state), updated=now)
            if state["type"] in TERMINAL_STATE_TYPES and record["end_time"] is None:
                record["end_time"] = now
            return _public(record)

    def _store_run(self, runs: dict[str, dict], record: dict) -> dict:
        """Keep a built run record in `runs` (flow runs or task runs) and return its wire form."""
        with self._store_lock:
            runs[record["id"]] = record
        return _public(record)

    def _task_runs_of(self, flow_run_id: str) -> list[dict]:
        """The task runs of one flow run."""
        with self._store_lock:
            return [t for t in self._task_runs.values() if t["flow_run_id"] == flow_run_id]

    def _next_task_start(self, flow_run_id: str) -> datetime.datetime:
        """A start time after the flow run's latest task, so added tasks keep their order."""
        siblings = self._task_runs_of(flow_run_id)
        if siblings:
            return max(t["start_time"] for t in siblings) + datetime.timedelta(seconds=1)
        flow_run = self._flow_runs.get(flow_run_id)
        return flow_run["start_time"] if flow_run else utcnow()

    # endpoints -------------------------------------------------------------------------

    def _csrf_token(self, request: RecordedRequest) -> tuple:
        """Prefect's answer when CSRF protection is off, which the client asks first."""
        # What a default server (CSRF protection off) answers; the client then stops asking.
        return 422, {"detail": "CSRF protection is disabled."}

    def _read_run(self, runs: dict[str, dict], id: str, not_found: str) -> tuple:
        """GET a flow run or task run from `runs` by id, or Prefect's 404 with `not_found`."""
        run_id = _check_uuid(id, "id")
        with self._store_lock:
            record = runs.get(run_id)
        if record is None:
            return 404, {"detail": not_found}
        return 200, _public(record)

    def _read_flow_run(self, request: RecordedRequest, id: str) -> tuple:
        """GET a flow run by id, or Prefect's 404."""
        return self._read_run(self._flow_runs, id, "Flow run not found")

    def _read_task_run(self, request: RecordedRequest, id: str) -> tuple:
        """GET a task run by id, or Prefect's 404."""
        return self._read_run(self._task_runs, id, "Task not found")

    def _filter_flow_runs(self, request: RecordedRequest) -> tuple:
        """POST flow_runs/filter: the flow-run and deployment filters, sorted and paged."""
        body = request.json or {}
        with self._store_lock:
            runs = list(self._flow_runs.values())
        return 200, [_public(r) for r in select_flow_runs(runs, body, self.default_limit)]

    def _filter_task_runs(self, request: RecordedRequest) -> tuple:
        """POST task_runs/filter: the flow-run and task-run filters, sorted and paged."""
        body = request.json or {}
        with self._store_lock:
            tasks = list(self._task_runs.values())
            flow_runs = dict(self._flow_runs)
        return 200, [_public(t) for t in select_task_runs(tasks, flow_runs, body, self.default_limit)]

    def _filter_logs(self, request: RecordedRequest) -> tuple:
        """POST logs/filter: the log filters, sorted and paged."""
        body = request.json or {}
        check_log_read(body)
        now = time.monotonic()
        matching = json.dumps(body.get("logs"), sort_keys=True, default=str)
        query = f"{matching} {body.get('sort')}"
        with self._store_lock:
            stored = len(self._logs)
            cacheable = now >= self._logs_visible_from
            cached = self._log_queries.get(query)
            if cacheable and cached is not None and cached[0] == stored:
                return 200, [_public(log) for log in page(cached[1], body, self.default_limit)]
            filtered = self._log_queries.get(matching)
            if not (cacheable and filtered is not None and filtered[0] == stored):
                filtered = None
                logs = [log for log in self._logs if log["_visible_at"] <= now]
        if filtered is None:
            logs = match_logs(logs, body)
        else:
            logs = filtered[1]  # the same filter's matches, kept by an earlier read in another order
        logs = sort_logs(logs, body)
        if cacheable:
            with self._store_lock:
                if len(self._log_queries) >= 16:
                    self._log_queries.clear()
                self._log_queries[query] = (stored, logs)
                self._log_queries[matching] = (stored, logs)
        return 200, [_public(log) for log in page(logs, body, self.default_limit)]

    def _graph(self, request: RecordedRequest, id: str) -> tuple:
        """A flow run's graph (nodes and their upstream links), as Prefect's graph-v2 returns it."""
        run_id = _check_uuid(id, "id")
        with self._store_lock:
            flow_run = self._flow_runs.get(run_id)
            flow_runs = dict(self._flow_runs)
        if flow_run is None:
            return 404, {"detail": "Flow run not found"}
        nodes = []
        for task in sorted(self._task_runs_of(run_id), key=lambda t: t["start_time"]):
            child_id = task["state"]["state_details"]["child_flow_run_id"]
            # The graph shows a subflow as its flow run, not as the placeholder task run.
            shown = flow_runs.get(child_id, task) if child_id else task
            nodes.append(
                (
                    shown["id"],
                    {
                        "kind": "flow-run" if shown is not task else "task-run",
                        "id": shown["id"],
                        "label": shown["name"],
                        "state_type": shown["state_type"],
                        "start_time": shown["start_time"] or shown["expected_start_time"],
                        "end_time": shown["end_time"],
                        "parents": [],
                        "children": [],
                        "artifacts": [],
                    },
                )
            )
        graph = {
            "start_time": flow_run["start_time"],
            "end_time": flow_run["end_time"],
            "root_node_ids": [node_id for node_id, _ in nodes],
            "nodes": nodes,
            "artifacts": [],
            "states": [],
        }
        return 200, graph
