"""On-demand summaries (Dalgo's logsummary endpoints): answer with a stored summary at once when there is one,
else create the row and queue the work; the UI then polls the row by its public id."""

from django.db.models import Q, QuerySet

from ddpui.clients import prefect
from ddpui.core.flow_runs import flow_run_info_from_prefect, org_of
from ddpui.core.summaries.locate import locate_failed_step
from ddpui.core.summaries.queue import enqueue_session_summary
from ddpui.core.summaries.store import session_for_step
from ddpui.models import LlmSession, Org, OrgDataFlow, OrgTask, OrgUser, PrefectFlowRun, SummaryStatus

# Large columns the read API does not serve: not fetched on the hot path (loaded if ever touched).
READ_API_SKIPS = ("excerpt", "response", "assistant_prompt", "user_prompts", "timings")


class NotInOrg(Exception):
    """The flow run or connection does not belong to the caller's org (the API answers 404)."""


def org_sessions(org: Org) -> QuerySet[LlmSession]:
    """Every summary of an org."""
    return LlmSession.objects.filter(org=org)


def failure_session(org: Org, flow_run_id: str) -> LlmSession | None:
    """The automatic failure summary of a flow run in this org."""
    return (
        org_sessions(org)
        .filter(flow_run_id=flow_run_id, trigger="failure")
        .defer(*READ_API_SKIPS)
        .order_by("created_at")
        .first()
    )


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


def queue_unless_ready(session: LlmSession, *, regenerate: bool) -> LlmSession:
    """Queue the row's (re)generation unless a stored summary answers already."""
    if regenerate or session.status != SummaryStatus.READY:
        if regenerate and session.status != SummaryStatus.PENDING:
            LlmSession.objects.filter(pk=session.pk).update(status=SummaryStatus.PENDING)
            session.status = SummaryStatus.PENDING
        enqueue_session_summary(session.pk, regenerate=regenerate, retry=True)
    return session


def request_flow_run_summary(
    *, org: Org, orguser: OrgUser, flow_run_id: str, task_id: str | None, regenerate: bool
) -> LlmSession:
    """The summary of a flow run's failed step, or of one task/subflow run of it (any task, failed or not)."""
    if task_id:
        session = org_sessions(org).filter(flow_run_id=flow_run_id, step_key=f"task:{task_id}").first()
        if session is None:
            session = org_sessions(org).filter(flow_run_id=flow_run_id, task_id=task_id).first()
    else:
        session = failure_session(org, flow_run_id)
    if session is None:
        # First time anyone asks about this run or task: Prefect says whose run it is and which step failed.
        root = flow_run_info_from_prefect(prefect.read_flow_run(flow_run_id))
        if org_of(root) != org:
            raise NotInOrg(flow_run_id)
        if task_id:
            step_key = f"task:{task_id}"
            failed_step = {"kind": "task", "label": task_id, "flow_run_id": flow_run_id, "task_run_id": task_id}
        else:
            step = locate_failed_step(root)
            step_key, failed_step = step.key, step.as_json()
        session = session_for_step(
            org=org,
            flow_run_id=root.id,
            step_key=step_key,
            failed_step=failed_step,
            orguser=orguser,
            trigger="on_demand" if task_id else "failure",
        )
    return queue_unless_ready(session, regenerate=regenerate)


def request_airbyte_job_summary(
    *, org: Org, orguser: OrgUser, connection_id: str, job_id: int, attempt_number: int | None, regenerate: bool
) -> LlmSession:
    """The summary of one Airbyte job attempt of the org's connection."""
    if not connection_in_org(org, connection_id):
        raise NotInOrg(connection_id)
    stored = (
        org_sessions(org)
        .filter(airbyte_job_id=job_id, status=SummaryStatus.READY)
        .filter(Q(attempt_number=attempt_number) | Q(attempt_number__isnull=attempt_number is None))
        .order_by("-created_at")
        .first()
    )
    if stored is not None and not regenerate:
        return stored
    step_key = f"airbyte:{job_id}:{'latest-failed' if attempt_number is None else attempt_number}"
    failed_step = {
        "kind": "airbyte",
        "label": f"Airbyte job {job_id}",
        "flow_run_id": "",
        "connection_id": connection_id,
        "airbyte_job_id": int(job_id),
        "attempt": attempt_number,
    }
    session = session_for_step(
        org=org, flow_run_id="", step_key=step_key, failed_step=failed_step, orguser=orguser, trigger="on_demand"
    )
    return queue_unless_ready(session, regenerate=regenerate)
