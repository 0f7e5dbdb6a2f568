"""Is the Django-Q2 cluster doing its work? A liveness check read from the database alone.

A cluster can say "ready" and run nothing: Django-Q2 workers killed while idle can die holding the lock of the
cluster's internal task queue, and their replacements then wait on it forever (RELIABILITY.md, "A wedged
cluster"). Nothing in the cluster notices, so we look at what it leaves in the database:

1. the oldest task still waiting in the ORM broker (`OrmQ.lock` is its enqueue time until a cluster claims it,
   then the claim's lease end; a lease that ran out makes it waiting again),
2. the last task any cluster finished (`Task.stopped`).

The queue is stalled when a task has waited longer than QUEUE_STALL_SECONDS AND no task finished within that
time. A busy cluster draining a burst has old waiting tasks but finishes some every few seconds; an idle one
has nothing waiting; only a cluster that takes no work fails both. QUEUE_STALL_SECONDS must be longer than
Q_TIMEOUT_SECONDS: a worker busy with the longest allowed task finishes (or is killed) within it.
"""

from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Max, Min
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Task


@dataclass
class QueueHealth:
    """What /health/ and `manage.py check_queue` report; `healthy` decides 200/503 and the exit code."""

    healthy: bool
    database: str
    queue: str
    waiting: int | None = None
    claimed: int | None = None
    oldest_waiting_age_seconds: float | None = None
    last_finished_age_seconds: float | None = None
    stall_after_seconds: float | None = None
    problem: str = ""

    def as_dict(self) -> dict:
        """The JSON body (ages rounded to 0.1 s)."""
        return {
            key: round(value, 1) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }


def age_seconds(moment: datetime | None, now: datetime) -> float | None:
    """Seconds from `moment` to `now`, or None when there is no such moment."""
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def check_queue_health() -> QueueHealth:
    """Read the broker's state (three indexed or small queries) and judge it; never raises for a database that
    is down: that is reported as unhealthy, with the error's class name (no connection details)."""
    stall_after = float(settings.QUEUE_STALL_SECONDS)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        now = timezone.now()
        ours = OrmQ.objects.filter(key=Conf.CLUSTER_NAME)
        waiting = ours.filter(lock__lte=now)
        waiting_stats = waiting.aggregate(oldest=Min("lock"))
        waiting_count = waiting.count()
        claimed_count = ours.filter(lock__gt=now).count()
        last_finished = Task.objects.aggregate(last=Max("stopped"))["last"]
    except DatabaseError as exc:
        return QueueHealth(healthy=False, database="down", queue="unknown", stall_after_seconds=stall_after,
                           problem=f"database unreachable ({type(exc).__name__})")
    oldest_age = age_seconds(waiting_stats["oldest"], now)
    finished_age = age_seconds(last_finished, now)
    stalled = (
        oldest_age is not None and oldest_age > stall_after
        and (finished_age is None or finished_age > stall_after)
    )
    problem = (
        f"a task has waited {oldest_age:.0f} s and no task finished for "
        f"{'ever' if finished_age is None else f'{finished_age:.0f} s'} (limit {stall_after:.0f} s): "
        "no cluster is taking work"
        if stalled else ""
    )
    return QueueHealth(
        healthy=not stalled,
        database="ok",
        queue="stalled" if stalled else ("draining" if waiting_count or claimed_count else "idle"),
        waiting=waiting_count,
        claimed=claimed_count,
        oldest_waiting_age_seconds=oldest_age,
        last_finished_age_seconds=finished_age,
        stall_after_seconds=stall_after,
        problem=problem,
    )
