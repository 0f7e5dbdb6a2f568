"""The endpoints Dalgo's frontends already call: logsummary requests and the task-progress poll."""

from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema, Status

from ddpui.api.auth import has_permission
from ddpui.api.schemas import ErrorOut
from ddpui.clients.prefect import FlowRunNotFound, PrefectError
from ddpui.core.summaries.on_demand import (
    NotInOrg,
    org_sessions,
    request_airbyte_job_summary,
    request_flow_run_summary,
)
from ddpui.models import LlmSession, SummaryStatus

prefect_router = Router(tags=["dalgo"])
airbyte_router = Router(tags=["dalgo"])
tasks_router = Router(tags=["dalgo"])


class TaskIdOut(Schema):
    """The id the UI polls at /api/tasks/stp/{task_id}."""

    task_id: str


class PromptResponse(Schema):
    """One question and answer of a summary session."""

    prompt: str
    response: str


class ProgressItem(Schema):
    """One progress entry, as Dalgo's UI reads it."""

    message: str
    status: str
    result: list[PromptResponse] | None


class ProgressOut(Schema):
    """Dalgo's task-progress answer."""

    progress: list[ProgressItem]


def progress_of(session: LlmSession) -> list[dict]:
    """Dalgo's progress list for a session: running, completed with the summary, or failed with the reason."""
    if session.status in (SummaryStatus.READY, SummaryStatus.SKIPPED):
        return [{"message": "Summary ready", "status": "completed", "result": session.response}]
    if session.status == SummaryStatus.FAILED:
        return [{"message": f"Could not summarize the logs: {session.last_error}", "status": "failed", "result": None}]
    return [{"message": "Summarizing the logs", "status": "running", "result": None}]


@prefect_router.get(
    "/flow_runs/{flow_run_id}/logsummary",
    response={200: TaskIdOut, 404: ErrorOut, 502: ErrorOut},
    summary="Summarize a flow run's failure, or one of its tasks",
)
@has_permission(["can_view_pipeline"])
def flow_run_logsummary(request: HttpRequest, flow_run_id: UUID, task_id: str | None = None, regenerate: int = 0):
    """A stored summary answers at once; otherwise the summary is queued. Poll /api/tasks/stp/{task_id}."""
    try:
        session = request_flow_run_summary(
            org=request.orguser.org,
            orguser=request.orguser,
            flow_run_id=str(flow_run_id),
            task_id=task_id or None,
            regenerate=bool(regenerate),
        )
    except (NotInOrg, FlowRunNotFound):
        return Status(404, {"detail": "flow run not found"})
    except PrefectError:
        return Status(502, {"detail": "Prefect is unreachable; try again shortly"})
    return Status(200, {"task_id": str(session.public_id)})


@airbyte_router.get(
    "/connections/{connection_id}/logsummary",
    response={200: TaskIdOut, 404: ErrorOut},
    summary="Summarize an Airbyte job attempt of a connection",
)
@has_permission(["can_view_pipeline"])
def connection_logsummary(
    request: HttpRequest, connection_id: str, job_id: int, attempt_number: int | None = None, regenerate: int = 0
):
    """A stored summary answers at once; otherwise the summary is queued. Poll /api/tasks/stp/{task_id}."""
    try:
        session = request_airbyte_job_summary(
            org=request.orguser.org,
            orguser=request.orguser,
            connection_id=connection_id,
            job_id=job_id,
            attempt_number=attempt_number,
            regenerate=bool(regenerate),
        )
    except NotInOrg:
        return Status(404, {"detail": "connection not found"})
    return Status(200, {"task_id": str(session.public_id)})


@tasks_router.get("/stp/{task_id}", response={200: ProgressOut, 404: ErrorOut}, summary="Progress of a summary")
@has_permission(["can_view_task_progress"])
def task_progress(request: HttpRequest, task_id: UUID):
    """Dalgo's poll: a stored summary comes back on the first poll."""
    session = org_sessions(request.orguser.org).filter(public_id=task_id).first()
    if session is None:
        return Status(404, {"detail": "task not found"})
    return Status(200, {"progress": progress_of(session)})
