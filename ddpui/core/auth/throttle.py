"""Failed authentication, throttled without locking out the real sender.

Only failures are throttled. A request with the right credential (the webhook key, a live token, the right
admin password) is never counted and never refused: Prefect's call-webhook does not retry, and many users can
share one NAT or proxy address, so blocking an address for its failures would lock out the real sender and
everyone behind it.

A failure is counted for its client key (the address, or the address and the subject, such as a username); once
a key has failed AUTH_FAILURE_LIMIT times within AUTH_FAILURE_WINDOW_SECONDS its further failures get 429 with
Retry-After instead of 401 (a well-behaved client backs off; no worker is held to slow anyone down, which would
let a few bad clients occupy every worker). Crossing the limit logs one warning per window (the alert), and the
counters are listed in the admin ("Auth failure windows").

Counted in the database, not in a per-process cache: gunicorn runs several workers (and deployments several
hosts), and a limit kept in one worker's memory would multiply by their number. A successful request touches
no counter.

The interface for authentication code: `refuse_failure(scope, key)` on each failed attempt (it counts and says
whether to answer 429), `blocked_for_seconds(scope, key)` only where a guessable secret must not be checked at
all while blocked (admin passwords), `client_address(request)` and `subject_key(client, subject)` to build keys.
"""

import hashlib
import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.http import HttpRequest
from django.utils import timezone

from ddpui.models import AuthFailureWindow

logger = logging.getLogger(__name__)

API_SCOPE = "api"
WEBHOOK_SCOPE = "webhook"
ADMIN_SCOPE = "admin"
MAX_CLIENT_CHARS = 64
# Room for the subject's digest after the address in the 64-character key.
SUBJECT_DIGEST_CHARS = 16


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


def subject_key(client: str, subject: str) -> str:
    """A counter key for one subject (a username) from one address: a guesser of one account is throttled
    without throttling the account's owner elsewhere or the other users behind the same address. The subject
    is stored as a digest only (it may be a mistyped password)."""
    digest = hashlib.sha256(subject.strip().lower().encode("utf-8", "surrogateescape")).hexdigest()
    return f"{client[: MAX_CLIENT_CHARS - SUBJECT_DIGEST_CHARS - 1]}|{digest[:SUBJECT_DIGEST_CHARS]}"


def window() -> timedelta:
    """The counting window."""
    return timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)


def blocked_for_seconds(scope: str, client: str, *, now: datetime | None = None) -> int | None:
    """Seconds until the key's failures are forgotten, or None when it is under the limit (one indexed read).

    For secrets that can be guessed (passwords): while blocked, the attempt must not be checked at all.
    """
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


def refuse_failure(scope: str, client: str, *, now: datetime | None = None) -> int | None:
    """Count one failed attempt; the Retry-After seconds when the key is now over the limit (answer 429),
    else None (answer 401). Call it only for failures: a right credential must never reach this.

    The attempt that reaches the limit logs a warning (once per window, whichever worker counted it).
    """
    now = now or timezone.now()
    record_failure(scope, client, now=now)
    row = AuthFailureWindow.objects.filter(scope=scope, client=client).values("failures", "window_started_at").first()
    if row is None or row["failures"] < settings.AUTH_FAILURE_LIMIT:
        return None
    if row["failures"] == settings.AUTH_FAILURE_LIMIT:
        logger.warning(
            "failed authentication: %s failures for %s from %s within %s s; further failures get 429",
            row["failures"], scope, client, settings.AUTH_FAILURE_WINDOW_SECONDS,
        )
    return max(1, math.ceil((row["window_started_at"] + window() - now).total_seconds()))


def prune_expired_windows(*, older_than: timedelta) -> int:
    """Delete counters whose window started before `older_than` ago (they block no one); returns the count."""
    deleted, _ = AuthFailureWindow.objects.filter(window_started_at__lt=timezone.now() - older_than).delete()
    return deleted
