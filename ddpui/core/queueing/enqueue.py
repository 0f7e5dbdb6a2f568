"""Queues work on the Django-Q2 cluster. Tasks are named by dotted path so core never imports tasks/."""

from datetime import datetime

from django_q.models import Schedule
from django_q.tasks import async_task

# Logs a failed task and marks the summary it was making as failed (tasks/hooks.py).
TASK_FAILURE_HOOK = "tasks.hooks.on_task_failure"


def enqueue(func: str, *args, task_name: str, **kwargs) -> str:
    """Queue `func(*args, **kwargs)` with our failure hook. Inside a transaction, the queue row commits with it
    (the ORM broker writes to the default database)."""
    return async_task(func, *args, hook=TASK_FAILURE_HOOK, task_name=task_name, **kwargs)


def schedule_once(func: str, *, at: datetime, name: str) -> None:
    """Run `func` once at `at` (Django-Q2's scheduler looks about every 30 s); the schedule deletes itself after
    running. Idempotent by name."""
    Schedule.objects.update_or_create(
        name=name,
        defaults={"func": func, "schedule_type": Schedule.ONCE, "next_run": at, "repeats": -1, "hook": TASK_FAILURE_HOOK},
    )
