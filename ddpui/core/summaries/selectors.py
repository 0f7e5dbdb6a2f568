"""Read-side queries of summaries, always scoped by the caller's org (or the reader's orgs): what the read API,
Dalgo's endpoints and the summary page ask of stored rows. No network call and no write here."""

from datetime import datetime
from uuid import UUID

from django.db.models import Count, Q, QuerySet

from ddpui.models import (
    AirbyteJob,
    LlmSession,
    Org,
    OrgDataFlow,
    OrgTask,
    OrgUser,
    PrefectFlowRun,
    SummaryFeedback,
    SummaryStatus,
)
from ddpui.models.vocabulary import SummaryTrigger

# Large columns the read API does not serve: not fetched on the hot path (loaded if ever touched).
READ_API_SKIPS = ("excerpt", "response", "assistant_prompt", "user_prompts", "timings")
def org_sessions(org: Org) -> QuerySet[LlmSession]:
    """Every summary of an org."""
    return LlmSession.objects.filter(org=org)


def failure_session(org: Org, flow_run_id: str) -> LlmSession | None:
    """The automatic failure summary of a flow run in this org."""
    return (
        org_sessions(org)
        .filter(flow_run_id=flow_run_id, trigger=SummaryTrigger.FAILURE)
        .defer(*READ_API_SKIPS)
        .order_by("created_at")
        .first()
    )


def names_node(session: LlmSession, node_id: str) -> bool:
    """Whether the row's step is, or lies under, this node of the run's graph."""
    return node_id in (session.node_ids or []) or session.task_id == node_id or session.step_key == f"task:{node_id}"


def session_for_node(org: Org, flow_run_id: str, node_id: str) -> LlmSession | None:
    """The stored row whose failed path has this node: the automatic failure summary first, else the on-demand
    row of that node. A run has a handful of rows, so they are matched here rather than by a JSON query."""
    rows = org_sessions(org).filter(flow_run_id=flow_run_id).defer(*READ_API_SKIPS)
    rows = [row for row in rows if names_node(row, node_id)]
    return min(rows, key=lambda row: (row.trigger != SummaryTrigger.FAILURE, row.created_at), default=None)


def flow_run_in_org(org: Org, flow_run_id: str) -> bool:
    """Whether our records tie the flow run to the org (no network call)."""
    deployment_ids = OrgDataFlow.objects.filter(org=org).values_list("deployment_id", flat=True)
    return (
        PrefectFlowRun.objects.filter(flow_run_id=flow_run_id, deployment_id__in=deployment_ids).exists()
        or org_sessions(org).filter(flow_run_id=flow_run_id).exists()
    )


def connection_in_org(org: Org, connection_id: str) -> bool:
    """Whether the Airbyte connection is one of the org's tasks."""
    return OrgTask.objects.filter(org=org, connection_id=connection_id).exists()


def job_of_org_connection(org: Org, connection_id: str, job_id: int) -> bool:
    """Whether the job is one of the connection's jobs we stored and the connection a task of the org."""
    return (
        connection_in_org(org, connection_id)
        and AirbyteJob.objects.filter(job_id=job_id, config_id=connection_id).exists()
    )


def as_public_id(value: object) -> UUID | None:
    """A summary's public id from what a caller sent (path, query or link); None for anything that is not a UUID."""
    try:
        return UUID(str(value))
    except ValueError:
        return None


def org_session_by_public_id(org: Org, public_id: object) -> LlmSession | None:
    """A summary of the org by the id the UI polls; None for another org's, or for an id that is not one."""
    key = as_public_id(public_id)
    return org_sessions(org).filter(public_id=key).defer(*READ_API_SKIPS).first() if key else None


def recent_org_sessions(
    org: Org, *, status: str | None = None, since: datetime | None = None, limit: int
) -> list[LlmSession]:
    """The org's summaries, newest first, filtered by status and creation time."""
    sessions = org_sessions(org).select_related("reused_from").defer(*READ_API_SKIPS)
    if status:
        sessions = sessions.filter(status=status)
    if since:
        sessions = sessions.filter(created_at__gte=since)
    return list(sessions.order_by("-created_at")[:limit])


def recorded_state_name(flow_run_id: str) -> str | None:
    """The state our flow-run record holds for the run (None when we have no record of it)."""
    return PrefectFlowRun.objects.filter(flow_run_id=flow_run_id).values_list("state_name", flat=True).first()


def ready_job_session(org: Org, job_id: int, attempt_number: int | None) -> LlmSession | None:
    """The org's newest ready summary of this Airbyte job attempt (the latest failed one when None)."""
    return (
        org_sessions(org)
        .filter(airbyte_job_id=job_id, status=SummaryStatus.READY)
        .filter(Q(attempt_number=attempt_number) | Q(attempt_number__isnull=attempt_number is None))
        .defer(*READ_API_SKIPS)
        .order_by("-created_at")
        .first()
    )


def session_by_public_id(public_id: object) -> LlmSession | None:
    """A summary by the id the read API shows, or None for an id that is not one."""
    key = as_public_id(public_id)
    return LlmSession.objects.select_related("org", "reused_from").filter(public_id=key).first() if key else None


def failure_session_of_run(flow_run_id: str, org_ids: list[int]) -> LlmSession | None:
    """The automatic summary of a run, among the orgs the reader belongs to (the alert's link before it existed)."""
    return (
        LlmSession.objects.filter(flow_run_id=flow_run_id, trigger=SummaryTrigger.FAILURE, org_id__in=org_ids)
        .order_by("created_at")
        .first()
    )


def run_and_pipeline_names(flow_run_id: str) -> tuple[PrefectFlowRun | None, str]:
    """Our record of the run (its name) and the name of the pipeline (deployment) it ran, "" when unknown."""
    run = PrefectFlowRun.objects.filter(flow_run_id=flow_run_id).only("name", "deployment_id").first()
    if run is None:
        return None, ""
    return run, OrgDataFlow.objects.filter(deployment_id=run.deployment_id).values_list("name", flat=True).first() or ""


def feedback_counts(session: LlmSession) -> dict[str, int]:
    """How many found the summary helpful and how many did not."""
    counts = SummaryFeedback.objects.filter(session=session).aggregate(
        yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False))
    )
    return {"helpful": counts["yes"], "not_helpful": counts["no"]}


def feedback_of(session: LlmSession, orguser: OrgUser) -> SummaryFeedback | None:
    """The user's own feedback on the summary, if any."""
    return SummaryFeedback.objects.filter(session=session, orguser=orguser).first()
