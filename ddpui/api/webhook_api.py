"""POST /webhooks/v1/notification/: verify, parse, record, enqueue, reply. No network call on this path."""

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import Throttled

from ddpui.core.auth.throttle import WEBHOOK_SCOPE, client_address, refuse_failure
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import NotificationParseError, parse_notification

logger = logging.getLogger(__name__)
router = Router(tags=["webhooks"])


class WebhookOk(Schema):
    """The acknowledgement Prefect receives."""

    status: str


class WebhookError(Schema):
    """Why a delivery was refused."""

    detail: str


def key_is_valid(request: HttpRequest) -> bool:
    """The X-Notification-Key header matches the configured key, compared in constant time.

    An unset key refuses everything: a webhook that anyone can call is worse than one that is down.
    """
    expected = settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY
    given = request.headers.get("X-Notification-Key", "")
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def read_body_within_limit(request: HttpRequest) -> bytes | None:
    """The request body, or None when it is larger than WEBHOOK_MAX_BODY_BYTES (read at most one byte more).

    A chunked body has no Content-Length, so Django reads it as empty; a server that decodes chunked bodies and
    marks the input as ending there (`wsgi.input_terminated`, as gunicorn does) lets us read it ourselves.
    """
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not declared and request.META.get("wsgi.input_terminated"):
        body = request.META["wsgi.input"].read(limit + 1)
    else:
        body = request.read(limit + 1)
    return None if len(body) > limit else body


@router.post(
    "/notification/",
    response={
        200: WebhookOk,
        400: WebhookError,
        401: WebhookError,
        413: WebhookError,
        429: WebhookError,
        503: WebhookError,
    },
    auth=None,
    summary="Receive a Prefect flow-run state notification",
)
def receive_notification(request: HttpRequest):
    """Record one Prefect notification and queue its handling; a repeated delivery is acknowledged and ignored.

    The right key always passes (Prefect's call-webhook never retries: it must not be locked out by someone
    else's guesses from the same address). A wrong key is counted; past the limit it gets 429, not 401.
    """
    if not key_is_valid(request):
        try:
            wait = refuse_failure(WEBHOOK_SCOPE, client_address(request))
        except DatabaseError:
            logger.exception("could not count a failed webhook key")
            wait = None
        if wait is not None:
            raise Throttled(wait)
        return Status(401, {"detail": "missing or wrong X-Notification-Key"})
    body = read_body_within_limit(request)
    if body is None:
        return Status(413, {"detail": f"body larger than {settings.WEBHOOK_MAX_BODY_BYTES} bytes"})
    try:
        parsed = parse_notification(body)
    except NotificationParseError as exc:
        return Status(400, {"detail": str(exc)})
    try:
        notification, created = record_notification(parsed)
    except DatabaseError:
        # Prefect's call-webhook never retries, but custom-webhook notifications do on non-2xx: say so.
        logger.exception("could not record notification for flow run %s", parsed.flow_run_id)
        return Status(503, {"detail": "could not record the notification, try again"})
    logger.info(
        "notification %s flow run %s state %s (%s)",
        notification.id,
        parsed.flow_run_id,
        parsed.state_name,
        "new" if created else "duplicate",
    )
    return Status(200, {"status": "ok"})
