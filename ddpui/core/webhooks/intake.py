"""Records a parsed notification and enqueues its handler, in one transaction (the ORM broker is an outbox)."""

from django.db import IntegrityError, transaction

from ddpui.core.queueing.enqueue import enqueue
from ddpui.core.redaction import redact_value
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import Notification

HANDLE_NOTIFICATION_TASK = "tasks.webhooks.handle_notification"


def enqueue_notification_handler(notification_id: int) -> None:
    """Queue the handler for one recorded notification (commits with the caller's transaction)."""
    enqueue(HANDLE_NOTIFICATION_TASK, notification_id, task_name=f"handle-notification-{notification_id}")


def record_notification(parsed: ParsedNotification) -> tuple[Notification, bool]:
    """Store the notification once and queue its handler once; a repeat returns (existing row, False).

    The unique dedupe_key decides, not an exists() check: of two concurrent identical deliveries exactly one
    INSERT wins, and only the winner's transaction carries the queue row.
    """
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                dedupe_key=parsed.dedupe_key,
                event_id=parsed.event_id,
                flow_run_id=parsed.flow_run_id,
                flow_run_name=parsed.flow_run_name,
                state_name=parsed.state_name,
                state_type=parsed.state_type,
                parent_task_run_id=parsed.parent_task_run_id,
                body_format=parsed.body_format,
                payload=redact_value(parsed.payload),
            )
            enqueue_notification_handler(notification.id)
    except IntegrityError:
        return Notification.objects.get(dedupe_key=parsed.dedupe_key), False
    return notification, True
