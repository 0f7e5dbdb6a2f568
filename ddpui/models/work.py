"""One retry-and-lease mechanism for rows that are work: tries counted, the next try scheduled, a holder's lease.

Every retried row (a webhook notification, a summary, a failure delivery) inherits `RetriedWork`; sweeps find
what is due with `.due()`, claims exclude held rows with `.unleased()` (ddpui/core/leases.py claims and backs off).
"""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone


class RetriedWorkQuerySet(models.QuerySet):
    """The two questions every sweep asks of retried rows."""

    def unleased(self, now: datetime | None = None) -> "RetriedWorkQuerySet":
        """Rows nobody holds: no lease, or a lease that ran out (its holder died)."""
        now = now or timezone.now()
        return self.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))

    def due(self, now: datetime | None = None) -> "RetriedWorkQuerySet":
        """Rows whose next try is due and that nobody holds."""
        now = now or timezone.now()
        return self.filter(next_attempt_at__lte=now).unleased(now)

    def postpone(self, until: datetime) -> int:
        """Move these rows' next try to `until` (a sweep that just queued them, past the try's lease): the next
        sweep queues them again only if this try is lost."""
        return self.update(next_attempt_at=until)


class RetriedWork(models.Model):
    """Attempts, next attempt, lease: the state a row needs to be retried with backoff and claimed race-safely."""

    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A worker holds the row until then.")

    objects = RetriedWorkQuerySet.as_manager()

    class Meta:
        abstract = True
