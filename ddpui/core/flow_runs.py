"""A flow run as our code sees it, from Prefect or (when Prefect is unreachable) from the notification itself."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from prefect.client.schemas.objects import FlowRun

from ddpui.clients import prefect
from ddpui.models import Notification, Org
from ddpui.models.vocabulary import PrefectState

# Root runs that end in these states get a failure email (as in Dalgo) and a failure summary.
FAILURE_STATE_NAMES = frozenset({PrefectState.FAILED, PrefectState.CRASHED, PrefectState.TIMED_OUT})
# Dalgo's own state name (type COMPLETED): dbt tests failed and the run went on. Its frontends offer a summary.
DBT_TEST_FAILED = PrefectState.DBT_TEST_FAILED
# Root runs that end in these states are summarized automatically: the failures, and failed dbt tests.
SUMMARY_STATE_NAMES = FAILURE_STATE_NAMES | {DBT_TEST_FAILED}
TERMINAL_STATE_TYPES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
AIRBYTE_TASK_SLUGS = frozenset({"airbyte-sync", "airbyte-reset", "airbyte-clear"})


@dataclass
class FlowRunInfo:
    """The facts about one flow run that the handler and the summary pipeline use."""

    id: str
    name: str = ""
    deployment_id: str | None = None
    parent_task_run_id: str | None = None
    state_type: str = ""
    state_name: str = ""
    state_message: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    expected_start_time: datetime | None = None
    total_run_time: float = 0.0
    run_count: int = 1
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        """A root run was not started by a task of another run."""
        return not self.parent_task_run_id

    @property
    def is_failure(self) -> bool:
        """Failed, Crashed or TimedOut."""
        return self.state_name in FAILURE_STATE_NAMES

    @property
    def needs_summary(self) -> bool:
        """Failed, Crashed, TimedOut or DBT_TEST_FAILED: the states whose root runs are summarized."""
        return self.state_name in SUMMARY_STATE_NAMES

    @property
    def is_terminal(self) -> bool:
        """The run will not change state again (unless retried)."""
        return self.state_type in TERMINAL_STATE_TYPES

    @property
    def config(self) -> dict[str, Any]:
        """Dalgo's `parameters.config`: org_slug, tasks, continue_on_sync_failure."""
        config = self.parameters.get("config") if isinstance(self.parameters, dict) else None
        return config if isinstance(config, dict) else {}

    @property
    def dalgo_tasks(self) -> list[dict[str, Any]]:
        """The pipeline's tasks in `seq` order."""
        tasks = [t for t in self.config.get("tasks") or [] if isinstance(t, dict)]
        return sorted(tasks, key=lambda t: (t.get("seq") is None, t.get("seq") or 0))

    @property
    def airbyte_connection_ids(self) -> list[str]:
        """Connections synced, reset or cleared by this run, in pipeline order, without repeats."""
        seen: list[str] = []
        for task in self.dalgo_tasks:
            connection_id = task.get("connection_id")
            if task.get("slug") in AIRBYTE_TASK_SLUGS and connection_id and connection_id not in seen:
                seen.append(str(connection_id))
        return seen


def flow_run_info_from_prefect(flow_run: FlowRun) -> FlowRunInfo:
    """FlowRunInfo from prefect-client's FlowRun."""
    state = flow_run.state
    return FlowRunInfo(
        id=str(flow_run.id),
        name=flow_run.name or "",
        deployment_id=str(flow_run.deployment_id) if flow_run.deployment_id else None,
        parent_task_run_id=str(flow_run.parent_task_run_id) if flow_run.parent_task_run_id else None,
        state_type=state.type.value if state else "",
        state_name=(state.name if state else "") or "",
        state_message=(state.message if state else "") or "",
        start_time=flow_run.start_time,
        end_time=flow_run.end_time,
        expected_start_time=flow_run.expected_start_time,
        total_run_time=flow_run.total_run_time.total_seconds() if flow_run.total_run_time else 0.0,
        run_count=flow_run.run_count or 1,
        parameters=flow_run.parameters or {},
    )


def read_flow_run_from_prefect(flow_run_id: str) -> FlowRunInfo:
    """The flow run, read from Prefect (raises the client's PrefectError / FlowRunNotFound)."""
    return flow_run_info_from_prefect(prefect.read_flow_run(flow_run_id))


def parse_time(value: Any) -> datetime | None:
    """A datetime from an ISO string in a payload, or None."""
    if not isinstance(value, str) or value in ("", "None"):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def flow_run_info_from_notification(notification: Notification) -> FlowRunInfo:
    """What the notification itself says, for when Prefect cannot be read (automation bodies carry most of it)."""
    payload = notification.payload if isinstance(notification.payload, dict) else {}
    parameters = payload.get("parameters")
    deployment_id = payload.get("deployment_id")
    return FlowRunInfo(
        id=notification.flow_run_id,
        name=notification.flow_run_name,
        deployment_id=str(deployment_id) if deployment_id not in (None, "", "None") else None,
        parent_task_run_id=notification.parent_task_run_id,
        state_type=notification.state_type,
        state_name=notification.state_name,
        state_message=str(payload.get("state_message") or ""),
        start_time=parse_time(payload.get("start_time")),
        end_time=parse_time(payload.get("end_time")),
        parameters=parameters if isinstance(parameters, dict) else {},
    )


def org_of(info: FlowRunInfo) -> Org | None:
    """The org named by `parameters.config.org_slug`, else the org owning the deployment."""
    slug = info.config.get("org_slug")
    if isinstance(slug, str) and slug:
        org = Org.objects.filter(slug=slug).first()
        if org:
            return org
    if info.deployment_id:
        return Org.objects.filter(dataflows__deployment_id=info.deployment_id).first()
    return None
