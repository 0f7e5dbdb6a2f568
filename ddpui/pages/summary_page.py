"""GET /summaries/{id}/: the summary page for a member of the summary's org, signed in with Dalgo's
`access_token` cookie (else the login page, which posts to Dalgo's login API and comes back)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework_simplejwt.tokens import AccessToken

from ddpui.api.auth import ACCESS_COOKIE
from ddpui.core.auth.jwt_tokens import InvalidJwt, live_token, user_id_of
from ddpui.core.auth.orgs import membership
from ddpui.core.summaries.page import summary_page
from ddpui.core.summaries.selectors import failure_session_of_run, session_by_public_id
from ddpui.models import OrgUser


def signed_in_user_id(request: HttpRequest) -> int | None:
    """The user of a live `access_token` cookie, or None (no cookie, expired, revoked, forged)."""
    raw = request.COOKIES.get(ACCESS_COOKIE)
    if not raw:
        return None
    try:
        return user_id_of(live_token(AccessToken, raw))
    except InvalidJwt:
        return None


def login_page(request: HttpRequest) -> HttpResponse:
    """The login form; 401 so that no cache or crawler takes it for the page."""
    return render(request, "ddpui/login.html", {"next": request.get_full_path()}, status=401)


def summary_view(request: HttpRequest, summary_id: str) -> HttpResponse:
    """The summary, for a member of its org; 404 (not 403) for anyone else, so ids reveal nothing."""
    user_id = signed_in_user_id(request)
    if user_id is None:
        return login_page(request)
    session = session_by_public_id(summary_id)
    reader = membership(user_id, session.org.slug) if session is not None else None
    if session is None or reader is None:
        raise Http404("no such summary")
    return render(request, "ddpui/summary_page.html", {"page": summary_page(session, reader)})


def run_summary_view(request: HttpRequest, flow_run_id: str) -> HttpResponse:
    """The link of an alert sent before its summary existed: to the summary once it does."""
    user_id = signed_in_user_id(request)
    if user_id is None:
        return login_page(request)
    org_ids = list(OrgUser.objects.filter(user_id=user_id).values_list("org_id", flat=True))
    session = failure_session_of_run(flow_run_id, org_ids)
    if session is None:
        return render(request, "ddpui/summary_pending.html", {"flow_run_id": flow_run_id}, status=404)
    return redirect("summary-page", summary_id=str(session.public_id))
