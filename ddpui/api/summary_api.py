"""Read API for stored summaries: no call to Prefect, Airbyte or the LLM; always within the caller's org."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from ddpui.api.auth import has_permission
from ddpui.api.schemas import ErrorOut, PendingOut, SummaryOut, summary_out
from ddpui.core.flow_runs import SUMMARY_STATE_NAMES
from ddpui.core.org_settings.usage import BadMonth, monthly_usage
from ddpui.core.summaries.feedback import MAX_COMMENT, give_feedback
from ddpui.core.summaries.selectors import (
    failure_session,
    feedback_counts,
    flow_run_in_org,
    org_session_by_public_id,
    recent_org_sessions,
    recorded_state_name,
)
from ddpui.models import SummaryStatus

router = Router(tags=["summaries"])
MAX_LIST = 200


class SummaryFilters(Schema):
    """Filters of the summary list."""

    status: SummaryStatus | None = None
    since: datetime | None = None
    limit: int = 50


@router.get(
    "/flow_runs/{flow_run_id}/summary",
    response={200: SummaryOut | PendingOut, 404: ErrorOut},
    summary="The stored failure summary of a flow run",
)
@has_permission(["can_view_pipeline"])
def flow_run_summary(request: HttpRequest, flow_run_id: str):
    """The stored summary of the run's failed step, or `pending` while it is made; 404 outside the org."""
    org = request.orguser.org
    session = failure_session(org, flow_run_id)
    if session is not None:
        return Status(200, summary_out(session))
    if recorded_state_name(flow_run_id) in SUMMARY_STATE_NAMES and flow_run_in_org(org, flow_run_id):
        return Status(200, {"flow_run_id": flow_run_id, "status": SummaryStatus.PENDING})
    return Status(404, {"detail": "no summary for this flow run"})


@router.get("/summaries", response=list[SummaryOut], summary="The org's recent failure summaries, newest first")
@has_permission(["can_view_pipeline"])
def list_summaries(request: HttpRequest, filters: Query[SummaryFilters]):
    """Recent summaries of the caller's org, filtered by status and time."""
    limit = min(max(filters.limit, 1), MAX_LIST)
    sessions = recent_org_sessions(request.orguser.org, status=filters.status, since=filters.since, limit=limit)
    return [summary_out(session) for session in sessions]


class FeedbackIn(Schema):
    """Was the summary helpful? One per user and summary; sending again changes it."""

    helpful: bool
    comment: str = Field("", max_length=MAX_COMMENT)


class FeedbackOut(Schema):
    """The caller's feedback as stored, and the summary's totals."""

    summary_id: str
    helpful: bool
    comment: str
    updated_at: datetime
    helpful_count: int
    not_helpful_count: int


@router.post(
    "/summaries/{summary_id}/feedback",
    response={200: FeedbackOut, 404: ErrorOut},
    summary="Say whether a summary helped (one per user, editable)",
)
@has_permission(["can_view_pipeline"])
def post_feedback(request: HttpRequest, summary_id: str, payload: FeedbackIn):
    """Store the caller's feedback on a summary of the caller's org; 404 for any other summary."""
    session = org_session_by_public_id(request.orguser.org, summary_id)
    if session is None:
        return Status(404, {"detail": "no such summary"})
    feedback = give_feedback(session=session, orguser=request.orguser, helpful=payload.helpful,
                             comment=payload.comment)
    counts = feedback_counts(session)
    return Status(200, {
        "summary_id": str(session.public_id), "helpful": feedback.helpful, "comment": feedback.comment,
        "updated_at": feedback.updated_at, "helpful_count": counts["helpful"],
        "not_helpful_count": counts["not_helpful"],
    })


class ModelUsage(Schema):
    """One model's use in the month."""

    model: str
    summaries: int
    tokens_in: int
    tokens_out: int


class UsageOut(Schema):
    """The org's LLM use in one month, and its budget."""

    month: str
    models: list[ModelUsage]
    tokens_in: int
    tokens_out: int
    budget: int | None
    over_budget: bool


@router.get("/usage", response={200: UsageOut, 400: ErrorOut}, summary="The org's LLM tokens in a month, by model")
@has_permission(["can_view_pipeline"])
def usage(request: HttpRequest, month: str | None = None) -> Any:
    """Tokens in and out by model for `month` (YYYY-MM, UTC; this month when absent) of the caller's org."""
    try:
        return Status(200, monthly_usage(request.orguser.org, month))
    except BadMonth as exc:
        return Status(400, {"detail": str(exc)})
