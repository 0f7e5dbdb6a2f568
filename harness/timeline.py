"""From a flow run's end to its stored summary: waits for the summary and splits the time it took into
Prefect's delivery, our queueing, the handler, and the summary pipeline's own stages (LlmSession.timings)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from django_q.models import Task
from prefect.client.schemas.objects import FlowRun

from ddpui.models import LlmSession, Notification, SummaryStatus
from harness.processes import HarnessError, wait_until

PIPELINE_STAGES = ("locate", "wait_for_logs", "evidence", "condense", "summarize", "store")


def ms_between(start: datetime | None, end: datetime | None) -> int | None:
    """Milliseconds from start to end, None if either is unknown."""
    return int((end - start).total_seconds() * 1000) if start and end else None


@dataclass
class SummaryTimeline:
    """The measured path of one failure, in milliseconds per step (None when a mark is missing)."""

    flow_run_id: str
    state_name: str
    steps: dict[str, int | None] = field(default_factory=dict)

    def render(self, label: str) -> str:
        """One line for a log or the terminal."""
        parts = ", ".join(f"{name} {'-' if ms is None else f'{ms} ms'}" for name, ms in self.steps.items())
        return f"[timing] {label} ({self.state_name}): {parts}"


def terminal_notification(flow_run: FlowRun, using: str) -> Notification | None:
    """The first notification we recorded of the run's final state."""
    return (
        Notification.objects.using(using)
        .filter(flow_run_id=str(flow_run.id), state_name=flow_run.state.name)
        .order_by("received_at")
        .first()
    )


def first_task(name: str, using: str) -> Task | None:
    """The first Django-Q2 task of that name to start."""
    return Task.objects.using(using).filter(name=name).order_by("started").first()


def timeline_of(flow_run: FlowRun, session: LlmSession | None, using: str) -> SummaryTimeline:
    """Where the time went between the run's end (Prefect's end_time) and the stored summary."""
    notification = terminal_notification(flow_run, using)
    handler = first_task(f"handle-notification-{notification.id}", using) if notification else None
    summary_task = first_task(f"summarize-flow-run-{flow_run.id}", using)
    received = notification.received_at if notification else None
    steps: dict[str, int | None] = {
        "prefect_delivery": ms_between(flow_run.end_time, received),
        "queueing": ms_between(received, handler.started if handler else None),
        # The handler enqueues the summary as its last step, before its own result is saved: measure to the
        # summary task's start rather than to the handler's recorded stop.
        "handler_until_summary_starts": ms_between(
            handler.started if handler else None, summary_task.started if summary_task else None
        ),
    }
    stage_ms = (session.timings or {}) if session else {}
    for stage in PIPELINE_STAGES:
        steps[stage] = stage_ms.get(stage)
    steps["total_end_to_stored"] = ms_between(flow_run.end_time, session.updated_at if session else None)
    return SummaryTimeline(flow_run_id=str(flow_run.id), state_name=flow_run.state.name, steps=steps)


def settled_summary(flow_run_id: str, using: str) -> LlmSession | None:
    """The run's automatic summary once it is no longer pending AND its summary task has finished.

    The row turns ready a moment before the pipeline writes its last timing, and Django-Q2 saves the task's
    row only when it ends: waiting for both makes the timeline complete.
    """
    session = (
        LlmSession.objects.using(using)
        .filter(flow_run_id=flow_run_id, trigger="failure")
        .exclude(status=SummaryStatus.PENDING)
        .first()
    )
    if session is None or not Task.objects.using(using).filter(name=f"summarize-flow-run-{flow_run_id}").exists():
        return None
    return session


def wait_for_summary(
    flow_run_id: str, *, using: str = "default", timeout: float = 60, progress: Callable[[float], None] | None = None
) -> LlmSession:
    """Wait (bounded) for the stored summary of a run; HarnessError if none is stored in time."""
    try:
        return wait_until(lambda: settled_summary(flow_run_id, using), timeout=timeout,
                          what=f"the summary of flow run {flow_run_id}", progress=progress)
    except HarnessError:
        notifications = list(Notification.objects.using(using).filter(flow_run_id=flow_run_id).values(
            "state_name", "status", "steps_done", "step_errors"))
    raise HarnessError(f"no summary of flow run {flow_run_id} within {timeout:.0f} s; notifications: {notifications}")
