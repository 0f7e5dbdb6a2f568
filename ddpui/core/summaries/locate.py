"""Finds the step that failed: a Dalgo run stops at its first failure, so the first failed task run of the
run's current attempt is it; a subflow's placeholder is followed down to the task that really failed; with no
failed task at all (the flow body raised, or the run crashed first) the flow run itself is the step. A run that
ended DBT_TEST_FAILED (Dalgo's COMPLETED-type state: dbt tests failed, the run went on) has no failed task: its
step is the task run that ended DBT_TEST_FAILED.

The ids of the failed path (each subflow run and its placeholder task run on the way down, and the failed task
run) are kept on the step: Dalgo's UI names a step by whichever of them the user clicked in the run's graph.
"""

import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from prefect.client.schemas.objects import StateType, TaskRun

from ddpui.clients import prefect
from ddpui.core.flow_runs import AIRBYTE_TASK_SLUGS, DBT_TEST_FAILED, FlowRunInfo, read_flow_run_from_prefect
from ddpui.core.redaction import redact_value
from ddpui.models.vocabulary import StepKind

FAILED_TASK_STATE_TYPES = frozenset({StateType.FAILED, StateType.CRASHED})
# A runaway chain of subflows is a bug somewhere else; stop well before it costs anything.
MAX_SUBFLOW_DEPTH = 10
# Dalgo names its dbt and shell steps `dbtjob-<slug>` / `shellop-<slug>`.
DALGO_STEP_NAME = re.compile(r"^(?P<prefix>dbtjob|shellop)-(?P<slug>[a-z0-9-]+?)(?:-\d+)?$")


class NodeNotFound(Exception):
    """The id is neither a task run nor a subflow run of the flow run (the API answers 400)."""


@dataclass
class FailedStep:
    """The step whose failure ended the run, and the Dalgo task it ran.

    kind: airbyte (a sync/reset/clear of one connection), dbt, shell, task (another Prefect task), or flow
    (the run or subflow failed outside any task).
    """

    kind: str
    label: str
    flow_run_id: str
    task_run_id: str | None = None
    state_name: str = ""
    state_message: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    task_slug: str | None = None
    task_seq: int | None = None
    connection_id: str | None = None
    airbyte_job_id: int | None = None
    attempt: int | None = None
    path: list[str] = field(default_factory=list)
    # The failed path's Prefect ids, root excluded: placeholder task run and subflow run per level, then the task.
    node_ids: list[str] = field(default_factory=list)
    # Whose logs are the evidence: the task run's own, or the (sub)flow run's.
    log_scope: str = "flow_run"

    @property
    def key(self) -> str:
        """The identity of the step within its org and root flow run (part of LlmSession's unique key)."""
        if self.task_run_id:
            return f"task:{self.task_run_id}"
        return f"flow:{self.flow_run_id}"

    def as_json(self) -> dict[str, Any]:
        """The failed_step object users read, JSON-safe and redacted: it is stored and shown, and
        Prefect's state message often quotes the exception, credentials included."""
        data = asdict(self)
        for name in ("start_time", "end_time"):
            data[name] = data[name].isoformat() if data[name] else None
        return redact_value(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FailedStep":
        """The step a stored `failed_step` object (as_json's output) describes; unknown keys are ignored."""
        values = {item.name: data[item.name] for item in fields(cls) if item.name in data}
        for name in ("start_time", "end_time"):
            value = values.get(name)
            values[name] = parse_datetime(value) if isinstance(value, str) else value if isinstance(value, datetime) else None
        values.setdefault("path", [])
        return cls(**values)


def current_attempt_task_runs(flow_run: FlowRunInfo) -> list[TaskRun]:
    """The task runs of the run's latest attempt (a retried flow leaves earlier attempts' runs), by start."""
    runs = [run for run in prefect.read_task_runs(flow_run.id) if (run.flow_run_run_count or 1) == flow_run.run_count]
    return sorted(runs, key=lambda run: run.start_time or run.expected_start_time or datetime.max.astimezone())


def first_failed_task_run(task_runs: list[TaskRun], *, dbt_tests: bool = False) -> TaskRun | None:
    """The first FAILED or CRASHED task run; with `dbt_tests` (the run ended DBT_TEST_FAILED), else the first
    that ended DBT_TEST_FAILED: failed dbt tests do not stop a run, so a later real failure is what ended it."""
    for run in task_runs:
        if run.state and run.state.type in FAILED_TASK_STATE_TYPES:
            return run
    if not dbt_tests:
        return None
    for run in task_runs:
        if run.state and run.state.name == DBT_TEST_FAILED:
            return run
    return None


def child_flow_run_id(run: TaskRun) -> str | None:
    """The subflow run a placeholder task run stands for (None for an ordinary task run)."""
    child_id = run.state.state_details.child_flow_run_id if run.state else None
    return str(child_id) if child_id else None


def connection_of(parameters: dict[str, Any]) -> str | None:
    """The Airbyte connection a subflow syncs: Dalgo passes it in `payload.connection_id`."""
    if not isinstance(parameters, dict):
        return None
    payload = parameters.get("payload")
    for source in (payload, parameters):
        if isinstance(source, dict) and source.get("connection_id"):
            return str(source["connection_id"])
    return None


def dalgo_task_for(step: FailedStep, root: FlowRunInfo) -> dict[str, Any] | None:
    """The entry of the root run's `config.tasks` that this step ran.

    An Airbyte step is matched by ITS connection (not the pipeline's first one); other steps by the slug in
    Dalgo's step name (`dbtjob-dbt-run` -> dbt-run), the longest slug that fits winning.
    """
    tasks = root.dalgo_tasks
    if step.connection_id:
        for task in tasks:
            if str(task.get("connection_id") or "") == step.connection_id:
                return task
    names = [name.lower() for name in [step.label, *step.path] if name]
    for name in names:
        match = DALGO_STEP_NAME.match(name)
        wanted = match["slug"] if match else None
        candidates = sorted(tasks, key=lambda t: -len(str(t.get("slug") or "")))
        for task in candidates:
            slug = str(task.get("slug") or "")
            if slug and (slug == wanted or (wanted is None and slug in name)):
                return task
    return None


def kind_for(task: dict[str, Any] | None, label: str, connection_id: str | None) -> str:
    """airbyte, dbt, shell or task, from the Dalgo task (when known) and the step's own name."""
    slug = str((task or {}).get("slug") or "")
    if connection_id or slug in AIRBYTE_TASK_SLUGS:
        return StepKind.AIRBYTE
    lowered = label.lower()
    if slug.startswith("dbt") or lowered.startswith("dbtjob") or "dbt" in lowered:
        return StepKind.DBT
    if lowered.startswith("shellop") or slug.startswith("git"):
        return StepKind.SHELL
    return StepKind.TASK


def step_from_task_run(run: TaskRun, flow_run: FlowRunInfo, path: list[str]) -> FailedStep:
    """A failed (non-subflow) task run as a FailedStep."""
    return FailedStep(
        kind=StepKind.TASK,
        label=run.name or run.task_key or str(run.id),
        flow_run_id=flow_run.id,
        task_run_id=str(run.id),
        state_name=(run.state.name if run.state else "") or "",
        state_message=(run.state.message if run.state else "") or "",
        start_time=run.start_time,
        end_time=run.end_time,
        path=path,
        log_scope="task_run",
    )


def step_from_flow_run(flow_run: FlowRunInfo, path: list[str]) -> FailedStep:
    """A flow run that failed outside any task (flow body raised, crashed, timed out) as a FailedStep."""
    return FailedStep(
        kind=StepKind.FLOW,
        label=flow_run.name or flow_run.id,
        flow_run_id=flow_run.id,
        state_name=flow_run.state_name,
        state_message=flow_run.state_message,
        start_time=flow_run.start_time,
        end_time=flow_run.end_time,
        path=path,
    )


def descend(
    flow_run: FlowRunInfo, path: list[str], depth: int, node_ids: list[str] | None = None, *, dbt_tests: bool = False
) -> tuple[FailedStep, dict[str, Any]]:
    """The failed step inside `flow_run`, following subflow placeholders; also the innermost run's parameters."""
    node_ids = node_ids or []
    failed = first_failed_task_run(current_attempt_task_runs(flow_run), dbt_tests=dbt_tests)
    if failed is None:
        step = step_from_flow_run(flow_run, path)
        step.node_ids = node_ids
        return step, flow_run.parameters
    child_id = child_flow_run_id(failed)
    label = failed.name or failed.task_key or str(failed.id)
    if child_id and depth < MAX_SUBFLOW_DEPTH:
        child = read_flow_run_from_prefect(child_id)
        step, parameters = descend(
            child, [*path, label], depth + 1, [*node_ids, str(failed.id), child_id], dbt_tests=dbt_tests
        )
        # A sync subflow knows its connection; an inner task does not: keep the nearest one found.
        return step, parameters if connection_of(parameters) else {**child.parameters, **parameters}
    step = step_from_task_run(failed, flow_run, path)
    step.node_ids = [*node_ids, str(failed.id)]
    return step, flow_run.parameters


def attach_dalgo_task(step: FailedStep, root: FlowRunInfo) -> FailedStep:
    """Fill the step's Dalgo task (slug, seq, connection) and its kind; the root run's own body stays `flow`."""
    task = dalgo_task_for(step, root)
    if task:
        step.task_slug = str(task.get("slug") or "") or None
        step.task_seq = task.get("seq") if isinstance(task.get("seq"), int) else None
    is_root_body = step.kind == StepKind.FLOW and not step.path and not step.connection_id
    if not is_root_body:
        step.kind = kind_for(task, " ".join([step.label, *step.path]), step.connection_id)
    return step


def locate_failed_step(root: FlowRunInfo) -> FailedStep:
    """The step that failed in a root flow run, mapped to its Dalgo task (slug, seq, connection)."""
    step, parameters = descend(root, [], 0, dbt_tests=root.state_name == DBT_TEST_FAILED)
    step.connection_id = connection_of(parameters)
    return attach_dalgo_task(step, root)


def find_node(
    flow_run_id: str, node_id: str, *, path: list[str] | None = None, node_ids: list[str] | None = None, depth: int = 0
) -> FailedStep | None:
    """The step of one node of a run's graph: a task run, or a subflow run (by its own id or its placeholder's),
    at any depth; None when the id is no node of this run. Prefect is asked level by level, nearest first."""
    path, node_ids = path or [], node_ids or []
    subflows: list[tuple[TaskRun, str]] = []
    for run in prefect.read_task_runs(flow_run_id):
        child_id = child_flow_run_id(run)
        if node_id not in (str(run.id), child_id):
            if child_id:
                subflows.append((run, child_id))
            continue
        if child_id is None:
            step = step_from_task_run(run, FlowRunInfo(id=flow_run_id), path)
            step.node_ids = [*node_ids, str(run.id)]
            return step
        child = read_flow_run_from_prefect(child_id)
        step = step_from_flow_run(child, [*path, run.name or ""])
        # One row per subflow, whichever of its two ids was clicked: the step is keyed by the subflow run.
        step.task_run_id = child_id
        step.connection_id = connection_of(child.parameters)
        step.node_ids = [*node_ids, str(run.id), child_id]
        return step
    if depth >= MAX_SUBFLOW_DEPTH:
        return None
    for run, child_id in subflows:
        found = find_node(
            child_id,
            node_id,
            path=[*path, run.name or ""],
            node_ids=[*node_ids, str(run.id), child_id],
            depth=depth + 1,
        )
        if found is not None:
            return found
    return None


def step_for_task_run(root: FlowRunInfo, task_run_id: str) -> FailedStep:
    """The step for one given task run or subflow run id of the root run (on-demand summaries of any task,
    failed or not). Raises NodeNotFound for an id that is no node of this run, whoever's it is."""
    step = find_node(root.id, task_run_id)
    if step is None:
        raise NodeNotFound(task_run_id)
    return attach_dalgo_task(step, root)
