"""Re-queues notifications whose handler steps failed (Prefect or Airbyte down), when their backoff is due."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ddpui.core.webhooks.handler import HANDLER_LEASE_SECONDS
from ddpui.core.webhooks.intake import enqueue_notification_handler
from ddpui.models import Notification, NotificationStatus

BATCH = 100
HANDLER_LEASE = timedelta(seconds=HANDLER_LEASE_SECONDS)


def enqueue_due_notifications() -> int:
    """Queue the handler again for each due notification; returns how many were queued."""
    now = timezone.now()
    due = list(
        Notification.objects.filter(status=NotificationStatus.RETRYING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)[:BATCH]
    )
    for notification_id in due:
        # Push the due time past the handler's lease, so the next sweep queues it again only if this try is lost.
        Notification.objects.filter(pk=notification_id).update(next_attempt_at=now + HANDLER_LEASE)
        enqueue_notification_handler(notification_id)
    return len(due)
