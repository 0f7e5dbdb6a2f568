"""What the summary page shows, read from stored rows only (no call to Prefect, Airbyte or the LLM)."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ddpui.core.notify.text import made_by_line, recurrence_line, rerun_line
from ddpui.models import LlmSession, OrgDataFlow, OrgUser, PrefectFlowRun, SummaryFeedback


@dataclass
class SummaryPage:
    """The page's content."""

    session: LlmSession
    pipeline: str
    run_name: str
    step_label: str
    made_by: str
    rerun: str
    recurrence: str
    my_feedback: SummaryFeedback | None
    regenerate_url: str


def session_by_public_id(public_id: str) -> LlmSession | None:
    """A summary by the id the read API shows, or None for an id that is not one."""
    try:
        key = UUID(str(public_id))
    except ValueError:
        return None
    return LlmSession.objects.select_related("org", "reused_from").filter(public_id=key).first()


def failure_session_of_run(flow_run_id: str, org_ids: list[int]) -> LlmSession | None:
    """The automatic summary of a run, among the orgs the reader belongs to (the alert's link before it existed)."""
    return (
        LlmSession.objects.filter(flow_run_id=flow_run_id, trigger="failure", org_id__in=org_ids)
        .order_by("created_at")
        .first()
    )


def regenerate_url(session: LlmSession) -> str:
    """Dalgo's logsummary endpoint that regenerates this summary (its limits apply)."""
    step: dict[str, Any] = session.failed_step or {}
    if session.flow_run_id:
        task = f"&task_id={session.task_id}" if session.trigger == "on_demand" and session.task_id else ""
        return f"/api/prefect/v1/flow_runs/{session.flow_run_id}/logsummary?regenerate=1{task}"
    attempt = f"&attempt_number={session.attempt_number}" if session.attempt_number is not None else ""
    return (f"/api/airbyte/v1/connections/{step.get('connection_id', '')}/logsummary"
            f"?job_id={session.airbyte_job_id}{attempt}&regenerate=1")


def summary_page(session: LlmSession, reader: OrgUser) -> SummaryPage:
    """Everything the page shows for one summary and one reader."""
    run = PrefectFlowRun.objects.filter(flow_run_id=session.flow_run_id).only("name", "deployment_id").first()
    pipeline = ""
    if run is not None:
        pipeline = OrgDataFlow.objects.filter(deployment_id=run.deployment_id).values_list("name", flat=True).first() or ""
    step = session.failed_step or {}
    return SummaryPage(
        session=session,
        pipeline=pipeline or (run.name if run else ""),
        run_name=run.name if run else session.flow_run_id,
        step_label=str(step.get("task_slug") or step.get("label") or step.get("kind") or ""),
        made_by=made_by_line(session) if session.provider else "",
        rerun=rerun_line(session),
        recurrence=recurrence_line(session),
        my_feedback=SummaryFeedback.objects.filter(session=session, orguser=reader).first(),
        regenerate_url=regenerate_url(session),
    )
