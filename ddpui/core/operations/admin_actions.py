"""What an operator can do from the admin, as plain functions (the admin only calls them): regenerate a summary,
retry a notification's failed handler steps now, send a failure notification again; and the Django-Q2 task names
of one flow run's work, to link a run to its tasks."""

from django.db.models import QuerySet
from django.utils import timezone

from ddpui.core.notify.deliveries import resend
from ddpui.core.summaries.on_demand import RegenerateLimitReached, regenerate_session
from ddpui.core.webhooks.intake import enqueue_notification_handler
from ddpui.models import FailureDelivery, LlmSession, Notification, NotificationStatus


def regenerate_summaries(sessions: QuerySet[LlmSession]) -> int:
    """Queue each summary's regeneration by the users' path (Dalgo's regenerate=1): its limits and the LLM gate
    apply, and the summary shown stays until the new one is made. Returns how many were queued."""
    count = 0
    for session in sessions:
        try:
            before = session.regenerating_since, session.status
            after = regenerate_session(session, orguser=None)
        except RegenerateLimitReached:
            continue
        count += (after.regenerating_since, after.status) != before
    return count


def retry_notifications_now(notifications: QuerySet[Notification]) -> int:
    """Run the handler again now for notifications whose steps failed (retrying or failed for good); steps that
    succeeded are not redone, so no second email."""
    ids = list(notifications.exclude(status=NotificationStatus.HANDLED).values_list("pk", flat=True))
    Notification.objects.filter(pk__in=ids).update(
        status=NotificationStatus.RETRYING, next_attempt_at=timezone.now(), lease_until=None
    )
    for notification_id in ids:
        enqueue_notification_handler(notification_id)
    return len(ids)


def resend_deliveries(deliveries: QuerySet[FailureDelivery]) -> int:
    """Send each failure message again (with the summary as stored now)."""
    count = 0
    for delivery in deliveries:
        resend(delivery)
        count += 1
    return count


def task_names_of_run(flow_run_id: str) -> list[str]:
    """The Django-Q2 task names of one flow run's work: its handler runs, summaries and deliveries."""
    names = [f"summarize-flow-run-{flow_run_id}"]
    names += [f"handle-notification-{pk}" for pk in Notification.objects.filter(flow_run_id=flow_run_id).values_list("pk", flat=True)]
    names += [f"summarize-session-{pk}" for pk in LlmSession.objects.filter(flow_run_id=flow_run_id).values_list("pk", flat=True)]
    names += [f"deliver-failure-{pk}" for pk in FailureDelivery.objects.filter(flow_run_id=flow_run_id).values_list("pk", flat=True)]
    return names
