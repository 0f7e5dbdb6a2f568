"""Read API for stored summaries: no call to Prefect, Airbyte or the LLM; always within the caller's org."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from ddpui.api.auth import has_permission
from ddpui.api.schemas import ErrorOut, PendingOut, SummaryOut, summary_out
from ddpui.core.flow_runs import SUMMARY_STATE_NAMES
from ddpui.core.summaries.on_demand import READ_API_SKIPS, failure_session, flow_run_in_org, org_sessions
from ddpui.models import PrefectFlowRun, SummaryStatus

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
    run = PrefectFlowRun.objects.filter(flow_run_id=flow_run_id).first()
    if run is not None and run.state_name in SUMMARY_STATE_NAMES and flow_run_in_org(org, flow_run_id):
        return Status(200, {"flow_run_id": flow_run_id, "status": SummaryStatus.PENDING})
    return Status(404, {"detail": "no summary for this flow run"})


@router.get("/summaries", response=list[SummaryOut], summary="The org's recent failure summaries, newest first")
@has_permission(["can_view_pipeline"])
def list_summaries(request: HttpRequest, filters: Query[SummaryFilters]):
    """Recent summaries of the caller's org, filtered by status and time."""
    sessions = org_sessions(request.orguser.org).select_related("reused_from").defer(*READ_API_SKIPS)
    if filters.status:
        sessions = sessions.filter(status=filters.status)
    if filters.since:
        sessions = sessions.filter(created_at__gte=filters.since)
    limit = min(max(filters.limit, 1), MAX_LIST)
    return [summary_out(session) for session in sessions.order_by("-created_at")[:limit]]
