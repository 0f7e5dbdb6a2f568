"""Rate limit on failed authentication: a client that fails AUTH_FAILURE_LIMIT times within
AUTH_FAILURE_WINDOW_SECONDS is refused (429, Retry-After) until its window ends.

Counted in the database, not in a per-process cache: gunicorn runs several workers (and deployments several
hosts), and a limit kept in one worker's memory would multiply by their number. Successful requests cost one
indexed read (is this client blocked?) and never write.
"""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.http import HttpRequest
from django.utils import timezone

from ddpui.models import AuthFailureWindow

API_SCOPE = "api"
WEBHOOK_SCOPE = "webhook"
MAX_CLIENT_CHARS = 64


def client_address(request: HttpRequest) -> str:
    """The client's IP: REMOTE_ADDR, or the last X-Forwarded-For entry when AUTH_TRUST_X_FORWARDED_FOR is on.

    Only the last entry is trusted: it is the one our own proxy appended; earlier ones are the client's word.
    """
    address = request.META.get("REMOTE_ADDR") or "unknown"
    if settings.AUTH_TRUST_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            address = forwarded[-1]
    return address[:MAX_CLIENT_CHARS]


def window() -> timedelta:
    """The counting window."""
    return timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)


def blocked_for_seconds(scope: str, client: str, *, now: datetime | None = None) -> int | None:
    """Seconds until the client may try again, or None when it is not blocked (one indexed read)."""
    now = now or timezone.now()
    started = (
        AuthFailureWindow.objects.filter(
            scope=scope,
            client=client,
            failures__gte=settings.AUTH_FAILURE_LIMIT,
            window_started_at__gt=now - window(),
        )
        .values_list("window_started_at", flat=True)
        .first()
    )
    if started is None:
        return None
    return max(1, math.ceil((started + window() - now).total_seconds()))


def add_failure(scope: str, client: str, now: datetime) -> int:
    """+1 in the client's current window, or restart the window at `now` with 1 when it has passed.

    One conditional UPDATE: concurrent failures from several workers are all counted (PostgreSQL re-evaluates
    the CASE on the row version it waited for). Returns the rows touched: 0 when the client has no row yet.
    """
    expired = Q(window_started_at__lte=now - window())
    return AuthFailureWindow.objects.filter(scope=scope, client=client).update(
        failures=Case(When(expired, then=Value(1)), default=F("failures") + 1),
        window_started_at=Case(When(expired, then=Value(now)), default=F("window_started_at")),
    )


def record_failure(scope: str, client: str, *, now: datetime | None = None) -> None:
    """Count one failed attempt of the client. Its first failure inserts the row; if a concurrent first
    failure won that insert (unique scope + client), ours becomes an update."""
    now = now or timezone.now()
    if add_failure(scope, client, now):
        return
    try:
        with transaction.atomic():
            AuthFailureWindow.objects.create(scope=scope, client=client, failures=1, window_started_at=now)
    except IntegrityError:
        add_failure(scope, client, now)


def prune_expired_windows(*, older_than: timedelta) -> int:
    """Delete counters whose window started before `older_than` ago (they block no one); returns the count."""
    deleted, _ = AuthFailureWindow.objects.filter(window_started_at__lt=timezone.now() - older_than).delete()
    return deleted
