"""The store: one row per (org, flow run, step), enforced by the database; the retry sweep."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.models import OrmQ

from ddpui.core.summaries.store import record_failure, session_for_step
from ddpui.models import LlmSession, SummaryStatus
from tasks.summaries import retry_due_summaries

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_second_row_for_the_same_step(org):
    LlmSession.objects.create(org=org, flow_run_id="r", step_key="task:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        LlmSession.objects.create(org=org, flow_run_id="r", step_key="task:1")


def test_session_for_step_returns_the_existing_row(org):
    first = session_for_step(org=org, flow_run_id="r", step_key="task:1", failed_step={"task_run_id": "1"})
    second = session_for_step(org=org, flow_run_id="r", step_key="task:1", failed_step={"task_run_id": "1"})
    assert first.pk == second.pk and first.task_id == "1" and first.status == SummaryStatus.PENDING


def test_retry_sweep_requeues_only_due_rows_once(org):
    now = timezone.now()
    due = LlmSession.objects.create(org=org, flow_run_id="a", step_key="s", status=SummaryStatus.FAILED,
                                    next_attempt_at=now - datetime.timedelta(seconds=1))
    LlmSession.objects.create(org=org, flow_run_id="b", step_key="s", status=SummaryStatus.FAILED,
                              next_attempt_at=now + datetime.timedelta(hours=1))
    LlmSession.objects.create(org=org, flow_run_id="c", step_key="s", status=SummaryStatus.FAILED,
                              next_attempt_at=now - datetime.timedelta(seconds=1),
                              lease_until=now + datetime.timedelta(minutes=1))  # a worker holds it
    assert retry_due_summaries() == 1
    assert [row.task["args"] for row in OrmQ.objects.all()] == [(due.pk,)]
    assert retry_due_summaries() == 0, "not queued again while that try runs"


def test_a_failure_quoting_a_secret_is_stored_redacted(org):
    session = session_for_step(org=org, flow_run_id="run-1", step_key="dbt:dbt-run", failed_step={"kind": "dbt"})
    record_failure(session, "Prefect: OperationalError('connection failed: password=Hunter8pw host=db')")
    session.refresh_from_db()
    assert "Hunter8pw" not in session.last_error and "[REDACTED:password]" in session.last_error
