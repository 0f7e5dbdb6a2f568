"""The Prefect stand-in's filter engine: evaluates the bodies of Prefect's `/filter` reads (flow runs, task runs,
logs) against stored records the way the Prefect 3 server does: any_/not_any_/before_/after_/... operators,
the `and_` operator, sorts, and limit/offset pages, answering Prefect's 422 for what it refuses."""

import datetime
from typing import Any

from standins.server import HttpError

FILTER_OPS = {"any_", "not_any_", "is_null_", "after_", "before_", "ge_", "le_", "like_", "all_", "exists_"}

# Sort name -> (record key, descending). Nulls always sort last, as they do for the
# server's ASC sorts on Postgres; good enough for tests that sort runs that have times.
FLOW_RUN_SORTS = {
    "ID_DESC": ("id", True),
    "START_TIME_ASC": ("start_time", False),
    "START_TIME_DESC": ("start_time", True),
    "EXPECTED_START_TIME_ASC": ("expected_start_time", False),
    "EXPECTED_START_TIME_DESC": ("expected_start_time", True),
    "NAME_ASC": ("name", False),
    "NAME_DESC": ("name", True),
    "NEXT_SCHEDULED_START_TIME_ASC": ("next_scheduled_start_time", False),
    "END_TIME_DESC": ("end_time", True),
}
TASK_RUN_SORTS = {k: v for k, v in FLOW_RUN_SORTS.items() if not k.startswith("START_TIME")}
LOG_SORTS = {"TIMESTAMP_ASC": ("timestamp", False), "TIMESTAMP_DESC": ("timestamp", True)}

# Filter field name -> the record key it tests (a dict for nested filters such as state).
FLOW_RUN_FILTER_FIELDS = {
    "id": "id",
    "name": "name",
    "tags": "tags",
    "deployment_id": "deployment_id",
    "work_queue_name": "work_queue_name",
    "state": {"type": "state_type", "name": "state_name"},
    "flow_version": "flow_version",
    "start_time": "start_time",
    "end_time": "end_time",
    "expected_start_time": "expected_start_time",
    "next_scheduled_start_time": "next_scheduled_start_time",
    "parent_task_run_id": "parent_task_run_id",
    "idempotency_key": "idempotency_key",
}
TASK_RUN_FILTER_FIELDS = {
    "id": "id",
    "name": "name",
    "tags": "tags",
    "state": {"type": "state_type", "name": "state_name"},
    "start_time": "start_time",
    "end_time": "end_time",
    "flow_run_id": "flow_run_id",
}
# A deployment filter on a flow-run read joins the run to its deployment; the stand-in keeps no deployments,
# so only the deployment's id (the run's deployment_id) can be tested.
DEPLOYMENT_FILTER_FIELDS = {"id": "deployment_id"}
LOG_FILTER_FIELDS = {
    "level": "level",
    "timestamp": "timestamp",
    "flow_run_id": "flow_run_id",
    "task_run_id": "task_run_id",
}

# The filters a Prefect read body may carry; each read refuses those it does not evaluate.
FILTER_KEYS = ("flows", "flow_runs", "task_runs", "deployments", "work_pools", "work_pool_queues", "logs")


def as_datetime(value: Any) -> datetime.datetime | None:
    """A stored time as a timezone-aware datetime, whatever form the fixture gave it."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    parsed = datetime.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def unprocessable(detail: str) -> HttpError:
    """Prefect's 422 with a plain detail message."""
    return HttpError(422, {"detail": detail})


def invalid_request(loc: list, msg: str, value: Any, body: Any) -> HttpError:
    """A 422 in the shape of the server's request-validation handler."""
    detail = [{"type": "value_error", "loc": loc, "msg": msg, "input": value}]
    return HttpError(
        422,
        {"exception_message": "Invalid request received.", "exception_detail": detail, "request_body": body},
    )


def _apply_ops(value: Any, ops: dict) -> bool:
    """Does `value` pass one leaf filter such as {"any_": [...], "is_null_": false}?"""
    for op, arg in ops.items():
        if arg is None or op == "operator":
            continue
        if op == "any_":
            ok = value is not None and str(value) in {str(a) for a in arg}
        elif op == "not_any_":
            ok = value is None or str(value) not in {str(a) for a in arg}
        elif op == "is_null_":
            ok = (value is None) == bool(arg)
        elif op == "after_":
            ok = value is not None and value >= as_datetime(arg)
        elif op == "before_":
            ok = value is not None and value <= as_datetime(arg)
        elif op == "ge_":
            ok = value is not None and value >= arg
        elif op == "le_":
            ok = value is not None and value <= arg
        elif op == "like_":
            ok = value is not None and str(arg).lower() in str(value).lower()
        elif op == "all_":
            ok = set(arg) <= set(value or ())
        else:  # "exists_"
            ok = (value is not None) == bool(arg)
        if not ok:
            return False
    return True


def matches(record: dict, filter_body: dict | None, fields: dict) -> bool:
    """Does `record` pass a Prefect filter object (an AND of its non-null members)?
    The filter must have passed check_filter."""
    for name, sub in (filter_body or {}).items():
        if sub is None or name == "operator":
            continue
        target = fields[name]
        if isinstance(target, dict):
            if not matches(record, sub, target):
                return False
        elif not _apply_ops(record.get(target), sub):
            return False
    return True


def check_filter(filter_body: dict | None, fields: dict, where: str) -> None:
    """Refuse, before any matching, a filter the stand-in cannot evaluate, so a test never
    passes on a filter that was silently ignored."""
    for name, sub in (filter_body or {}).items():
        if name == "operator":
            if sub not in (None, "and_"):
                raise unprocessable(f"stand-in supports only operator and_ in {where}")
            continue
        if sub is None:
            continue
        if name not in fields:
            raise unprocessable(f"stand-in does not support filter {where}.{name}")
        if isinstance(fields[name], dict):
            check_filter(sub, fields[name], f"{where}.{name}")
            continue
        unknown = {op for op, arg in sub.items() if arg not in (None, "and_") and op not in FILTER_OPS}
        if unknown:
            raise unprocessable(f"stand-in does not support filter {where}.{name}.{sorted(unknown)[0]}")


def refuse_other_filters(body: dict, allowed: set[str]) -> None:
    """Refuse (422) filters the stand-in does not implement rather than silently ignore them."""
    for key in FILTER_KEYS:
        if key not in allowed and body.get(key):
            raise unprocessable(f"stand-in does not support the {key} filter here")


def sort_records(records: list[dict], sort: str | None, sorts: dict, default: str) -> list[dict]:
    """Records sorted by a sort Prefect accepts for this resource, or Prefect's 422 for another."""
    sort = sort or default
    if sort not in sorts:
        raise invalid_request(["body", "sort"], f"Input should be one of {sorted(sorts)}", sort, None)
    key, descending = sorts[sort]
    present = [r for r in records if r.get(key) is not None]
    missing = [r for r in records if r.get(key) is None]
    # Python's sort is stable, so equal keys keep insertion order (the "seq" tie-break).
    present.sort(key=lambda r: r[key], reverse=descending)
    return present + missing


def page(records: list[dict], body: dict, default_limit: int) -> list[dict]:
    """The limit/offset page of records, refusing limits Prefect would refuse."""
    limit = body.get("limit")
    offset = body.get("offset")
    limit = default_limit if limit is None else limit
    offset = 0 if offset is None else offset
    if limit < 0:
        raise unprocessable("Invalid limit: must be greater than or equal to 0.")
    if limit > default_limit:
        raise unprocessable(f"Invalid limit: must be less than or equal to {default_limit}.")
    if offset < 0:
        raise invalid_request(["body", "offset"], "Input should be greater than or equal to 0", offset, body)
    return records[offset : offset + limit]


def select_flow_runs(runs: list[dict], body: dict, default_limit: int) -> list[dict]:
    """The page of flow runs a flow_runs/filter body asks for: its flow-run and deployment filters,
    sorted and paged."""
    refuse_other_filters(body, {"flow_runs", "deployments"})
    check_filter(body.get("flow_runs"), FLOW_RUN_FILTER_FIELDS, "flow_runs")
    check_filter(body.get("deployments"), DEPLOYMENT_FILTER_FIELDS, "deployments")
    runs = [r for r in runs if matches(r, body.get("flow_runs"), FLOW_RUN_FILTER_FIELDS)]
    runs = [r for r in runs if matches(r, body.get("deployments"), DEPLOYMENT_FILTER_FIELDS)]
    runs = sort_records(runs, body.get("sort"), FLOW_RUN_SORTS, "ID_DESC")
    return page(runs, body, default_limit)


def select_task_runs(tasks: list[dict], flow_runs: dict[str, dict], body: dict, default_limit: int) -> list[dict]:
    """The page of task runs a task_runs/filter body asks for: its flow-run filter (on each task's flow
    run, from `flow_runs` by id) and task-run filter, sorted and paged."""
    refuse_other_filters(body, {"flow_runs", "task_runs"})
    flow_run_filter = body.get("flow_runs")
    check_filter(flow_run_filter, FLOW_RUN_FILTER_FIELDS, "flow_runs")
    check_filter(body.get("task_runs"), TASK_RUN_FILTER_FIELDS, "task_runs")
    if flow_run_filter:
        # The server joins task runs to their flow run and applies the flow run filter to it.
        tasks = [
            t
            for t in tasks
            if t["flow_run_id"] in flow_runs
            and matches(flow_runs[t["flow_run_id"]], flow_run_filter, FLOW_RUN_FILTER_FIELDS)
        ]
    tasks = [t for t in tasks if matches(t, body.get("task_runs"), TASK_RUN_FILTER_FIELDS)]
    tasks = sort_records(tasks, body.get("sort"), TASK_RUN_SORTS, "ID_DESC")
    return page(tasks, body, default_limit)


def check_log_read(body: dict) -> None:
    """Refuse (422) a logs/filter body whose filters the stand-in cannot evaluate."""
    refuse_other_filters(body, {"logs"})
    check_filter(body.get("logs"), LOG_FILTER_FIELDS, "logs")


def match_logs(logs: list[dict], body: dict) -> list[dict]:
    """The logs that pass a logs/filter body's log filter (checked by check_log_read), in stored order."""
    return [log for log in logs if matches(log, body.get("logs"), LOG_FILTER_FIELDS)]


def sort_logs(logs: list[dict], body: dict) -> list[dict]:
    """Logs in a logs/filter body's sort (timestamp ascending by default)."""
    return sort_records(logs, body.get("sort"), LOG_SORTS, "TIMESTAMP_ASC")
