"""What the summary page shows, read from stored rows only (no call to Prefect, Airbyte or the LLM)."""

from dataclasses import dataclass
from typing import Any

from ddpui.core.notify.text import made_by_line, recurrence_line, rerun_line
from ddpui.core.summaries.selectors import feedback_of, run_and_pipeline_names
from ddpui.models import LlmSession, OrgUser, SummaryFeedback
from ddpui.models.vocabulary import SummaryTrigger


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


def regenerate_url(session: LlmSession) -> str:
    """Dalgo's logsummary endpoint that regenerates this summary (its limits apply)."""
    step: dict[str, Any] = session.failed_step or {}
    if session.flow_run_id:
        task = f"&task_id={session.task_id}" if session.trigger == SummaryTrigger.ON_DEMAND and session.task_id else ""
        return f"/api/prefect/v1/flow_runs/{session.flow_run_id}/logsummary?regenerate=1{task}"
    attempt = f"&attempt_number={session.attempt_number}" if session.attempt_number is not None else ""
    return (
        f"/api/airbyte/v1/connections/{step.get('connection_id', '')}/logsummary"
        f"?job_id={session.airbyte_job_id}{attempt}&regenerate=1"
    )


def summary_page(session: LlmSession, reader: OrgUser) -> SummaryPage:
    """Everything the page shows for one summary and one reader."""
    run, pipeline = run_and_pipeline_names(session.flow_run_id)
    step = session.failed_step or {}
    return SummaryPage(
        session=session,
        pipeline=pipeline or (run.name if run else ""),
        run_name=run.name if run else session.flow_run_id,
        step_label=str(step.get("task_slug") or step.get("label") or step.get("kind") or ""),
        made_by=made_by_line(session) if session.provider else "",
        rerun=rerun_line(session),
        recurrence=recurrence_line(session),
        my_feedback=feedback_of(session, reader),
        regenerate_url=regenerate_url(session),
    )
