"""Race-safe claims of retried rows (ddpui.models.work.RetriedWork): a conditional UPDATE whose row count says
who won (no exists()-then-write), and the one backoff every retried row uses."""

from datetime import timedelta

from django.db.models import F, Model, Q
from django.utils import timezone


def claim(
    model: type[Model],
    pk: int,
    *,
    seconds: float,
    extra: Q | None = None,
    retry_field: str | None = None,
    count_field: str | None = None,
) -> bool:
    """Give the caller the row for `seconds` if nobody holds it (or a holder's lease expired).

    A worker that dies keeps nothing: its lease simply runs out and the next try takes the row over. With
    `retry_field`, the same UPDATE also sets that field to the lease's end, so a retry sweep finds the row
    again if the holder dies without a word (SIGKILL, OOM); the holder overwrites it when it finishes.
    With `count_field`, the claim counts a try: a worker killed on every try still reaches the limit.
    """
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    rows = model.objects.filter(pk=pk).unleased(now)
    if extra is not None:
        rows = rows.filter(extra)
    changes = {"lease_until": until, **({retry_field: until} if retry_field else {})}
    if count_field:
        changes[count_field] = F(count_field) + 1
    return bool(rows.update(**changes))


def release(model: type[Model], pk: int) -> None:
    """Give the row back before the lease runs out."""
    model.objects.filter(pk=pk).update(lease_until=None)


def backoff(attempts: int, *, base: float, cap: float = 3600, retry_after: float | None = None) -> timedelta:
    """Exponential backoff after `attempts` tries: base, 2 x base, 4 x base, ... up to `cap`, never sooner than
    a server's Retry-After."""
    delay = min(base * 2 ** max(attempts - 1, 0), cap)
    return timedelta(seconds=max(delay, retry_after or 0))
