"""On-demand requests under concurrency: the org lock makes an org's regenerates one at a time, so clicks at the
same moment start one regenerate and never pass the daily cap together (real PostgreSQL, real threads)."""

import datetime
import threading
import uuid

import pytest
from django.db import connection, connections
from django.utils import timezone
from django_q.models import OrmQ
from model_bakery import baker

from ddpui.core.summaries.on_demand import RegenerateLimitReached, request_flow_run_summary
from ddpui.models import LlmSession, SummaryRegeneration, SummaryStatus

THREADS = 8


def ready_row(org) -> LlmSession:
    """A ready failure summary made an hour ago."""
    return baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x", trigger="failure",
                      status=SummaryStatus.READY, title="t", summary="s",
                      ready_at=timezone.now() - datetime.timedelta(hours=1))


def at_once(calls) -> list:
    """Run the calls in threads released together; each thread's outcome (value or exception) in order."""
    outcomes, barrier = [None] * len(calls), threading.Barrier(len(calls))

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # the outcome is what the test checks
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.fixture
def postgres(transactional_db):
    """Concurrency needs PostgreSQL's row locks."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def test_clicks_at_once_start_one_regenerate(postgres, org, manager):
    row = ready_row(org)
    outcomes = at_once([
        lambda: request_flow_run_summary(org=org, orguser=manager, flow_run_id=row.flow_run_id, task_id=None,
                                         regenerate=True)
        for _ in range(THREADS)
    ])
    assert all(isinstance(outcome, LlmSession) and outcome.pk == row.pk for outcome in outcomes), outcomes
    assert SummaryRegeneration.objects.count() == 1 and OrmQ.objects.count() == 1


def test_concurrent_regenerates_never_pass_the_daily_cap(postgres, org, manager, settings):
    settings.SUMMARY_REGENERATE_DAILY_LIMIT = 3
    rows = [ready_row(org) for _ in range(THREADS)]
    outcomes = at_once([
        lambda row=row: request_flow_run_summary(org=org, orguser=manager, flow_run_id=row.flow_run_id,
                                                 task_id=None, regenerate=True)
        for row in rows
    ])
    assert not any(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    assert SummaryRegeneration.objects.count() == 3 and OrmQ.objects.count() == 3
    assert LlmSession.objects.filter(regenerating_since__isnull=False).count() == 3


def test_over_the_cap_a_row_without_a_summary_is_refused(postgres, org, manager, settings):
    settings.SUMMARY_REGENERATE_DAILY_LIMIT = 0
    row = baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x", trigger="failure",
                     status=SummaryStatus.FAILED)
    with pytest.raises(RegenerateLimitReached):
        request_flow_run_summary(org=org, orguser=manager, flow_run_id=row.flow_run_id, task_id=None, regenerate=True)
    row.refresh_from_db()
    assert row.status == SummaryStatus.FAILED and OrmQ.objects.count() == 0
