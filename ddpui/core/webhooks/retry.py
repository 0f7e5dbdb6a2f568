"""Re-queues notifications whose handler steps failed (Prefect or Airbyte down), when their backoff is due, and
those whose first handler run died or raised before it could record anything."""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from ddpui.core.webhooks.handler import HANDLER_LEASE_SECONDS
from ddpui.core.webhooks.intake import enqueue_notification_handler
from ddpui.models import Notification, NotificationStatus

BATCH = 100
HANDLER_LEASE = timedelta(seconds=HANDLER_LEASE_SECONDS)


def abandoned(now: datetime) -> Q:
    """Received notifications whose first handler run never finished: it died or raised (PostgreSQL restarted
    mid-handler, a worker killed) and its lease ran out, or it never started within a lease (a lost task).
    Without this they would stay `received` for ever: only `retrying` rows have a retry scheduled."""
    cut_off = Q(lease_until__lt=now) | Q(received_at__lt=now - HANDLER_LEASE)
    return Q(status=NotificationStatus.RECEIVED) & cut_off & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def enqueue_due_notifications() -> int:
    """Queue the handler again for each due or abandoned notification; returns how many were queued."""
    now = timezone.now()
    due = list(
        Notification.objects.filter(Q(status=NotificationStatus.RETRYING, next_attempt_at__lte=now) | abandoned(now))
        .unleased(now)
        .values_list("pk", flat=True)[:BATCH]
    )
    # Push the due time past the handler's lease, so the next sweep queues them again only if this try is lost.
    Notification.objects.filter(pk__in=due).postpone(now + HANDLER_LEASE)
    for notification_id in due:
        enqueue_notification_handler(notification_id)
    return len(due)
