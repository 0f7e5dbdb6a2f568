"""The global LLM slots: at most LLM_MAX_CONCURRENCY holders across connections (processes, hosts); a holder
whose connection dies frees its slot; a waiter gives up with a transient LlmError after LLM_SLOT_WAIT_SECONDS."""

import threading
import time

import psycopg
import pytest
from django.db import connection

from ddpui.clients.llm import LlmError
from ddpui.core.llm_slots import SLOT_NAMESPACE, llm_slot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgres_only():
    """Advisory locks are PostgreSQL's."""
    if connection.vendor != "postgresql":
        pytest.skip("the LLM slots need PostgreSQL (set DATABASE_URL)")


def other_session() -> psycopg.Connection:
    """A second PostgreSQL session on the test database, as another cluster's worker would have."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def hold(session: psycopg.Connection, slot: int) -> None:
    """Take a slot from another session."""
    assert session.execute("SELECT pg_try_advisory_lock(%s, %s)", [SLOT_NAMESPACE, slot]).fetchone()[0]


def test_a_free_slot_is_taken_at_once_and_given_back(settings):
    settings.LLM_MAX_CONCURRENCY = 2
    with llm_slot() as first:
        assert first in (0, 1)
        with other_session() as other:
            # The other slot is still free for another session; ours is not.
            assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", [SLOT_NAMESPACE, first]).fetchone()[0] is False
    with other_session() as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", [SLOT_NAMESPACE, first]).fetchone()[0] is True


def test_when_every_slot_is_held_elsewhere_the_caller_waits_then_gives_up_transiently(settings):
    settings.LLM_MAX_CONCURRENCY = 2
    settings.LLM_SLOT_WAIT_SECONDS = 0.5
    with other_session() as a, other_session() as b:
        hold(a, 0)
        hold(b, 1)
        started = time.monotonic()
        with pytest.raises(LlmError) as busy:
            with llm_slot():
                pass
        assert busy.value.transient and "LLM busy" in str(busy.value)
        assert 0.5 <= time.monotonic() - started < 3


def test_a_slot_whose_holder_died_is_free_again(settings):
    settings.LLM_MAX_CONCURRENCY = 1
    settings.LLM_SLOT_WAIT_SECONDS = 5
    holder = other_session()
    hold(holder, 0)
    # The holder's connection closes (its worker was SIGKILLed): PostgreSQL drops its advisory locks.
    threading.Timer(0.3, holder.close).start()
    started = time.monotonic()
    with llm_slot() as slot:
        assert slot == 0
    assert time.monotonic() - started < 3


def test_no_bound_when_the_setting_is_zero(settings):
    settings.LLM_MAX_CONCURRENCY = 0
    with llm_slot() as slot:
        assert slot is None
