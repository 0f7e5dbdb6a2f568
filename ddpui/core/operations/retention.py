"""Retention: old notifications and Django-Q2 task results are deleted, so tables do not grow forever."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.models import Task

from ddpui.core.auth.jwt_tokens import prune_revoked
from ddpui.core.auth.throttle import prune_expired_windows
from ddpui.models import Notification, NotificationStatus

# Failed-authentication counters block no one once their window has passed; a day keeps them for a look.
AUTH_FAILURE_KEEP = timedelta(days=1)


def prune_old_records() -> dict[str, int]:
    """Delete handled/failed notifications and task results older than RETENTION_DAYS, and expired
    failed-authentication counters and revocations of tokens that have expired anyway; returns counts."""
    cutoff = timezone.now() - timedelta(days=settings.RETENTION_DAYS)
    notifications, _ = Notification.objects.filter(
        received_at__lt=cutoff, status__in=[NotificationStatus.HANDLED, NotificationStatus.FAILED]
    ).delete()
    results, _ = Task.objects.filter(stopped__lt=cutoff).delete()
    window = timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)
    auth_failures = prune_expired_windows(older_than=max(AUTH_FAILURE_KEEP, window))
    return {"notifications": notifications, "task_results": results, "auth_failures": auth_failures,
            "revoked_tokens": prune_revoked()}
