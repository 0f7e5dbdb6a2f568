"""A bound on concurrent LLM calls across every qcluster on the database (LLM_MAX_CONCURRENCY).

Q_WORKERS bounds one cluster; Dalgo grows by adding cluster hosts on the same PostgreSQL, and the provider's
rate limits are per account. So the slots live in PostgreSQL: slot k is the session-level advisory lock
(SLOT_NAMESPACE, k). Taking one is a single query that tries the slots in turn and stops at the first it gets;
a worker SIGKILLed mid-call holds nothing afterwards, because PostgreSQL drops a session's advisory locks when its
connection closes. No table, no lease to expire, no sweep.
"""

import random
import time
from contextlib import contextmanager
from typing import Iterator

from django.conf import settings
from django.db import DatabaseError, connection

from ddpui.clients.llm import LlmError

# The first key of every slot's advisory lock: b"DDPU" as a 32-bit integer, so our locks never meet another
# application's on the same database.
SLOT_NAMESPACE = 0x44445055
# Between tries while every slot is taken; jittered so waiting workers do not poll in step.
POLL_SECONDS = 0.1
# One statement: the executor evaluates WHERE row by row and LIMIT 1 stops it at the first lock it got, so it
# never takes two. The rotation spreads workers over the slots instead of all trying slot 0 first.
TRY_SLOT_SQL = (
    "SELECT (n + %(offset)s) %% %(limit)s AS slot FROM generate_series(0, %(limit)s - 1) AS n "
    "WHERE pg_try_advisory_lock(%(namespace)s, ((n + %(offset)s) %% %(limit)s)::int) LIMIT 1"
)
RELEASE_SLOT_SQL = "SELECT pg_advisory_unlock(%s, %s)"


def try_slot(limit: int) -> int | None:
    """Take a free slot now (its number), or None when all `limit` are held."""
    with connection.cursor() as cursor:
        cursor.execute(TRY_SLOT_SQL, {"offset": random.randrange(limit), "limit": limit, "namespace": SLOT_NAMESPACE})
        row = cursor.fetchone()
    return None if row is None else row[0]


def release_slot(slot: int) -> None:
    """Give the slot back; a connection that broke meanwhile has already freed it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(RELEASE_SLOT_SQL, [SLOT_NAMESPACE, slot])
    except DatabaseError:
        pass


@contextmanager
def llm_slot() -> Iterator[int | None]:
    """Hold one of LLM_MAX_CONCURRENCY global slots for the duration of an LLM call.

    Waits up to LLM_SLOT_WAIT_SECONDS, then raises a transient LlmError: the caller stores the offline summary
    and the retry schedule tries the model again later, so a busy model never blocks a worker for long.
    Without PostgreSQL or with LLM_MAX_CONCURRENCY 0 there is no global bound (yields None).
    """
    limit = settings.LLM_MAX_CONCURRENCY
    if limit <= 0 or connection.vendor != "postgresql":
        yield None
        return
    deadline = time.monotonic() + settings.LLM_SLOT_WAIT_SECONDS
    slot = try_slot(limit)
    while slot is None:
        if time.monotonic() >= deadline:
            raise LlmError(
                f"LLM busy: all {limit} slots (LLM_MAX_CONCURRENCY) taken for {settings.LLM_SLOT_WAIT_SECONDS:g} s",
                transient=True,
            )
        time.sleep(POLL_SECONDS * random.uniform(0.5, 1.5))
        slot = try_slot(limit)
    try:
        yield slot
    finally:
        release_slot(slot)
