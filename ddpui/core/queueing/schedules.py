"""The Django-Q2 schedules this app needs, created or updated idempotently (by name) after every migrate."""

from django.conf import settings
from django_q.models import Schedule


def schedule_specs() -> list[dict]:
    """Name, function and timing of each schedule."""
    return [
        {
            "name": "retry-due-summaries",
            "func": "tasks.summaries.retry_due_summaries",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.RETRY_SWEEP_EVERY_MINUTES,
        },
        {
            "name": "retry-notifications",
            "func": "tasks.webhooks.retry_notifications",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.RETRY_SWEEP_EVERY_MINUTES,
        },
        {
            "name": "send-due-failure-deliveries",
            "func": "tasks.notify.send_due_deliveries",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.RETRY_SWEEP_EVERY_MINUTES,
        },
        {
            "name": "reconcile-missed-failures",
            "func": "tasks.summaries.reconcile_missed_failures",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.RECONCILE_EVERY_MINUTES,
        },
        {"name": "prune-old-records", "func": "tasks.maintenance.prune", "schedule_type": Schedule.DAILY},
    ]


def ensure_schedules(**_signal_kwargs) -> list[str]:
    """Create or update every schedule by name; running it twice changes nothing. Returns the names."""
    names = []
    for spec in schedule_specs():
        spec = dict(spec)
        name = spec.pop("name")
        spec.setdefault("minutes", None)
        Schedule.objects.update_or_create(name=name, defaults={**spec, "repeats": -1})
        names.append(name)
    return names
