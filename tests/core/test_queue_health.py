"""The queue's liveness check: stalled only when a task waits AND nothing finishes; /health/ and check_queue."""

import datetime
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Task

from ddpui.core import queue_health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stall_after(settings):
    """A 60 s stall limit for every test here."""
    settings.QUEUE_STALL_SECONDS = 60


def queued(seconds_ago: float, *, claimed_for: float | None = None) -> OrmQ:
    """A broker row enqueued `seconds_ago` (or claimed, its lease ending `claimed_for` seconds from now)."""
    now = timezone.now()
    lock = now + datetime.timedelta(seconds=claimed_for) if claimed_for else now - datetime.timedelta(seconds=seconds_ago)
    return OrmQ.objects.create(key=Conf.CLUSTER_NAME, payload="x", lock=lock)


def finished(seconds_ago: float) -> Task:
    """A task result that stopped `seconds_ago`."""
    stopped = timezone.now() - datetime.timedelta(seconds=seconds_ago)
    return Task.objects.create(id=f"t{seconds_ago}", name="t", func="math.floor", started=stopped, stopped=stopped,
                               success=True)


def test_an_empty_queue_is_healthy_and_idle():
    report = queue_health.check_queue_health()
    assert report.healthy and report.database == "ok" and report.queue == "idle"
    assert report.oldest_waiting_age_seconds is None and report.waiting == 0


def test_a_task_waiting_past_the_limit_with_nothing_finished_is_a_stall():
    finished(seconds_ago=600)
    queued(seconds_ago=90)
    report = queue_health.check_queue_health()
    assert not report.healthy and report.queue == "stalled"
    assert 89 < report.oldest_waiting_age_seconds < 100 and report.last_finished_age_seconds > 599
    assert "no cluster is taking work" in report.problem


def test_a_busy_cluster_draining_a_burst_is_not_a_stall():
    # Old waiting tasks, but the cluster finishes tasks all the time.
    queued(seconds_ago=300)
    queued(seconds_ago=1, claimed_for=300)
    finished(seconds_ago=2)
    report = queue_health.check_queue_health()
    assert report.healthy and report.queue == "draining" and report.waiting == 1 and report.claimed == 1


def test_a_fresh_task_after_a_quiet_week_is_not_a_stall():
    finished(seconds_ago=7 * 86400)
    queued(seconds_ago=5)
    assert queue_health.check_queue_health().healthy


def test_a_database_that_is_down_is_reported_not_raised(monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(queue_health.OrmQ.objects, "filter", broken)
    report = queue_health.check_queue_health()
    assert not report.healthy and report.database == "down" and "DatabaseError" in report.problem


def test_health_endpoint_answers_200_when_healthy_and_503_with_the_reason_when_stalled(client):
    response = client.get("/health/")
    assert response.status_code == 200 and response.json()["queue"] == "idle"
    queued(seconds_ago=120)
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["healthy"] is False and body["database"] == "ok" and body["queue"] == "stalled"
    assert body["oldest_waiting_age_seconds"] >= 120 and body["last_finished_age_seconds"] is None


def test_health_endpoint_needs_no_token_and_refuses_other_methods(client):
    assert client.get("/health/").status_code == 200
    assert client.post("/health/").status_code == 405


def test_check_queue_exits_0_when_healthy_and_1_when_stalled():
    out = StringIO()
    call_command("check_queue", stdout=out)
    assert json.loads(out.getvalue())["healthy"] is True
    queued(seconds_ago=120)
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("check_queue", stdout=out)
    assert exited.value.code == 1 and json.loads(out.getvalue())["queue"] == "stalled"


def test_check_queue_exits_2_when_the_database_is_down(monkeypatch):
    monkeypatch.setattr(queue_health.OrmQ.objects, "filter", lambda *a, **k: (_ for _ in ()).throw(DatabaseError("x")))
    with pytest.raises(SystemExit) as exited:
        call_command("check_queue", stdout=StringIO())
    assert exited.value.code == 2
