"""The endpoints Dalgo's frontends already call: logsummary requests and the task-progress poll.

Their query and path parameters are read as text and checked here, so that bad input answers Dalgo's own 400
messages ("no such task id", "Invalid job id") instead of a validation 422, and an integer too large for the
database never reaches it.
"""

from uuid import UUID

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status

from ddpui.api.auth import has_permission
from ddpui.api.schemas import ErrorOut
from ddpui.clients.prefect import FlowRunNotFound, PrefectError
from ddpui.core.summaries.locate import NodeNotFound
from ddpui.core.summaries.on_demand import (
    InvalidJob,
    NotInOrg,
    RegenerateLimitReached,
    pending_expired,
    request_airbyte_job_summary,
    request_flow_run_summary,
)
from ddpui.core.summaries.public import NOT_MADE, dalgo_result
from ddpui.core.summaries.selectors import org_session_by_public_id
from ddpui.models import LlmSession, SummaryStatus

prefect_router = Router(tags=["dalgo"])
airbyte_router = Router(tags=["dalgo"])
tasks_router = Router(tags=["dalgo"])

# Airbyte job ids are BigInteger primary keys; attempt numbers are small.
MAX_JOB_ID = 2**63 - 1
MAX_ATTEMPT_NUMBER = 10_000
NO_SUCH_TASK = {"detail": "no such task id"}
INVALID_JOB = {"detail": "Invalid job id"}
REGENERATE_LIMIT = {"detail": "today's regenerates for this org are used up; try again tomorrow"}


class BadParameter(ValueError):
    """A query parameter that is not what the endpoint accepts (the endpoint answers 400)."""


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


def uuid_or_none(value: str | None) -> str | None:
    """A canonical UUID string, or None when the value is not a UUID."""
    try:
        return str(UUID(str(value)))
    except (TypeError, ValueError, AttributeError):
        return None


def bounded_int(value: str | None, *, low: int, high: int) -> int:
    """An integer in [low, high] from a query parameter; BadParameter otherwise (a 10**20 job id is no id)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise BadParameter(value) from exc
    if not low <= number <= high:
        raise BadParameter(value)
    return number


def regenerate_flag(value: str | None) -> bool:
    """Dalgo's `regenerate` query parameter: absent, 0 or 1; BadParameter otherwise."""
    return bool(bounded_int(value, low=0, high=1)) if value else False


def progress_of(session: LlmSession) -> list[dict]:
    """Dalgo's progress list for a session: running, completed with the two result pairs, or failed.

    A pending summary older than SUMMARY_PENDING_EXPIRY_SECONDS reports failed so the UI stops polling (the row
    keeps its retries); a regenerate under way shows running, and the summary that was there if it fails or
    expires. A failure says only "try again": the reason, which may quote a traceback, stays on the row.
    """
    now = timezone.now()
    if session.status == SummaryStatus.READY:
        if session.regenerating_since is not None and not pending_expired(session.regenerating_since, now):
            return [{"message": "Summarizing the logs", "status": "running", "result": None}]
        result = dalgo_result(
            title=session.title, summary=session.summary, root_cause=session.root_cause, fix_steps=session.fix_steps
        )
        return [{"message": "Summary ready", "status": "completed", "result": result}]
    if session.status == SummaryStatus.PENDING and not pending_expired(session.requested_at, now):
        return [{"message": "Summarizing the logs", "status": "running", "result": None}]
    return [{"message": NOT_MADE, "status": "failed", "result": None}]


@prefect_router.get(
    "/flow_runs/{flow_run_id}/logsummary",
    response={200: TaskIdOut, 400: ErrorOut, 404: ErrorOut, 429: ErrorOut, 502: ErrorOut},
    summary="Summarize a flow run's failure, or one of its tasks",
)
@has_permission(["can_view_pipeline"])
def flow_run_logsummary(
    request: HttpRequest, flow_run_id: str, task_id: str | None = None, regenerate: str | None = None
):
    """A stored summary answers at once; otherwise the summary is queued. Poll /api/tasks/stp/{task_id}.

    `task_id` is the node the user clicked: a task run, or a subflow run (or its placeholder task run).
    """
    run_id = uuid_or_none(flow_run_id)
    if run_id is None:
        return Status(404, {"detail": "flow run not found"})
    node_id = uuid_or_none(task_id) if task_id else None
    if task_id and node_id is None:
        return Status(400, {"detail": "task_id is not a task or subflow run of this flow run"})
    try:
        wants_regenerate = regenerate_flag(regenerate)
        session = request_flow_run_summary(
            org=request.orguser.org,
            orguser=request.orguser,
            flow_run_id=run_id,
            task_id=node_id,
            regenerate=wants_regenerate,
        )
    except BadParameter:
        return Status(400, {"detail": "regenerate must be 0 or 1"})
    except (NotInOrg, FlowRunNotFound):
        return Status(404, {"detail": "flow run not found"})
    except NodeNotFound:
        return Status(400, {"detail": "task_id is not a task or subflow run of this flow run"})
    except RegenerateLimitReached:
        return Status(429, REGENERATE_LIMIT)
    except PrefectError:
        return Status(502, {"detail": "Prefect is unreachable; try again shortly"})
    return Status(200, {"task_id": str(session.public_id)})


@airbyte_router.get(
    "/connections/{connection_id}/logsummary",
    response={200: TaskIdOut, 400: ErrorOut, 429: ErrorOut},
    summary="Summarize an Airbyte job attempt of a connection",
)
@has_permission(["can_view_pipeline"])
def connection_logsummary(
    request: HttpRequest,
    connection_id: str,
    job_id: str,
    attempt_number: str | None = None,
    regenerate: str | None = None,
):
    """A stored summary answers at once; otherwise the summary is queued. Poll /api/tasks/stp/{task_id}.

    The job must be one of the connection's jobs and the connection a task of the caller's org ("Invalid job
    id" otherwise, before anything is read from Airbyte).
    """
    try:
        job = bounded_int(job_id, low=1, high=MAX_JOB_ID)
    except BadParameter:
        return Status(400, INVALID_JOB)
    try:
        attempt = bounded_int(attempt_number, low=0, high=MAX_ATTEMPT_NUMBER) if attempt_number else None
        wants_regenerate = regenerate_flag(regenerate)
    except BadParameter:
        return Status(400, {"detail": "attempt_number must be a small whole number, regenerate 0 or 1"})
    try:
        session = request_airbyte_job_summary(
            org=request.orguser.org,
            orguser=request.orguser,
            connection_id=connection_id,
            job_id=job,
            attempt_number=attempt,
            regenerate=wants_regenerate,
        )
    except InvalidJob:
        return Status(400, INVALID_JOB)
    except RegenerateLimitReached:
        return Status(429, REGENERATE_LIMIT)
    return Status(200, {"task_id": str(session.public_id)})


@tasks_router.get("/stp/{task_id}", response={200: ProgressOut, 400: ErrorOut}, summary="Progress of a summary")
@has_permission(["can_view_task_progress"])
def task_progress(request: HttpRequest, task_id: str):
    """Dalgo's poll: a stored summary comes back on the first poll. Unknown keys answer Dalgo's 400."""
    session = org_session_by_public_id(request.orguser.org, task_id)
    if session is None:
        return Status(400, NO_SUCH_TASK)
    return Status(200, {"progress": progress_of(session)})
