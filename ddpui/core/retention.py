"""Retention: old notifications and Django-Q2 task results are deleted, so tables do not grow forever."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.models import Task

from ddpui.models import Notification, NotificationStatus


def prune_old_records() -> dict[str, int]:
    """Delete handled/failed notifications and task results older than RETENTION_DAYS; returns counts."""
    cutoff = timezone.now() - timedelta(days=settings.RETENTION_DAYS)
    notifications, _ = Notification.objects.filter(
        received_at__lt=cutoff, status__in=[NotificationStatus.HANDLED, NotificationStatus.FAILED]
    ).delete()
    results, _ = Task.objects.filter(stopped__lt=cutoff).delete()
    return {"notifications": notifications, "task_results": results}
