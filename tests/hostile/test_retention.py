"""Retention: notifications and Django-Q2 results older than RETENTION_DAYS are pruned by a daily schedule that
migrate creates idempotently; recent rows, unhandled notifications, queued tasks and summaries are kept."""

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule, Task
from django_q.scheduler import scheduler
from django_q.tasks import async_task
from model_bakery import baker

from ddpui.core.operations.retention import prune_old_records
from ddpui.core.queueing.schedules import ensure_schedules, schedule_specs
from ddpui.models import AuthFailureWindow, LlmSession, Notification, NotificationStatus

pytestmark = pytest.mark.django_db
PRUNE_SCHEDULE = "prune-old-records"


def notification(status: str, age: timedelta) -> Notification:
    """A notification in `status`, received `age` ago."""
    row = Notification.objects.create(dedupe_key=f"state:{uuid.uuid4()}:Failed", flow_run_id=str(uuid.uuid4()),
                                      state_name="Failed", body_format="text", status=status)
    # received_at is auto_now_add: back-date it with an UPDATE.
    Notification.objects.filter(pk=row.pk).update(received_at=timezone.now() - age)
    return row


def task_result(age: timedelta) -> Task:
    """A finished Django-Q2 task result that stopped `age` ago."""
    stopped = timezone.now() - age
    return Task.objects.create(id=uuid.uuid4().hex, name=f"t-{uuid.uuid4().hex[:8]}", func="tasks.webhooks.handle_notification",
                               started=stopped - timedelta(seconds=1), stopped=stopped, success=True)


@pytest.fixture
def aged_rows(settings, org):
    """Rows on both sides of a 30-day cutoff, in every state that matters."""
    settings.RETENTION_DAYS = 30
    old, recent = timedelta(days=31), timedelta(days=29)
    return {
        "old_handled": notification(NotificationStatus.HANDLED, old),
        "old_failed": notification(NotificationStatus.FAILED, old),
        "old_received": notification(NotificationStatus.RECEIVED, old),
        "old_retrying": notification(NotificationStatus.RETRYING, old),
        "recent_handled": notification(NotificationStatus.HANDLED, recent),
        "old_result": task_result(old),
        "recent_result": task_result(recent),
        "old_summary": baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x"),
    }


def test_prune_deletes_only_old_finished_rows(aged_rows):
    LlmSession.objects.filter(pk=aged_rows["old_summary"].pk).update(created_at=timezone.now() - timedelta(days=400))
    queued = async_task("tasks.maintenance.prune")  # a queued task is work, not a result: never pruned
    counts = prune_old_records()
    assert counts["notifications"] == 2 and counts["task_results"] == 1
    kept = set(Notification.objects.values_list("pk", flat=True))
    assert kept == {aged_rows[name].pk for name in ("old_received", "old_retrying", "recent_handled")}, (
        "unhandled notifications are kept whatever their age: their handler has still to run")
    assert list(Task.objects.values_list("pk", flat=True)) == [aged_rows["recent_result"].pk]
    assert OrmQ.objects.count() == 1 and queued
    assert LlmSession.objects.filter(pk=aged_rows["old_summary"].pk).exists(), "summaries are what users read"


def test_retention_days_is_configurable(aged_rows, settings):
    settings.RETENTION_DAYS = 28
    assert prune_old_records()["notifications"] == 3  # the 29-day-old handled one goes too
    settings.RETENTION_DAYS = 365
    assert prune_old_records() == {"notifications": 0, "task_results": 0, "auth_failures": 0, "revoked_tokens": 0}


def test_prune_twice_is_a_no_op(aged_rows):
    prune_old_records()
    assert prune_old_records() == {"notifications": 0, "task_results": 0, "auth_failures": 0, "revoked_tokens": 0}


def test_expired_failed_auth_counters_are_pruned_and_live_ones_kept():
    now = timezone.now()
    AuthFailureWindow.objects.create(scope="api", client="192.0.2.1", failures=50, window_started_at=now - timedelta(days=2))
    AuthFailureWindow.objects.create(scope="api", client="192.0.2.2", failures=50, window_started_at=now)
    assert prune_old_records()["auth_failures"] == 1
    assert list(AuthFailureWindow.objects.values_list("client", flat=True)) == ["192.0.2.2"]


def test_migrate_creates_the_schedules_once():
    # The test database was migrated: post_migrate already ran ensure_schedules.
    names = [spec["name"] for spec in schedule_specs()]
    assert sorted(Schedule.objects.values_list("name", flat=True)) == sorted(names)
    prune = Schedule.objects.get(name=PRUNE_SCHEDULE)
    assert (prune.func, prune.schedule_type, prune.repeats) == ("tasks.maintenance.prune", Schedule.DAILY, -1)
    before = {row.pk: (row.func, row.schedule_type, row.minutes, row.next_run) for row in Schedule.objects.all()}
    call_command("migrate", verbosity=0)
    ensure_schedules()
    after = {row.pk: (row.func, row.schedule_type, row.minutes, row.next_run) for row in Schedule.objects.all()}
    assert after == before, "migrating again changes no schedule (same rows, same next run)"


def test_ensure_schedules_repairs_an_edited_schedule(settings):
    Schedule.objects.filter(name=PRUNE_SCHEDULE).update(func="tasks.nothing", schedule_type=Schedule.HOURLY, repeats=0)
    Schedule.objects.filter(name="retry-due-summaries").delete()
    settings.RETRY_SWEEP_EVERY_MINUTES = 5
    ensure_schedules()
    prune = Schedule.objects.get(name=PRUNE_SCHEDULE)
    assert (prune.func, prune.schedule_type, prune.repeats) == ("tasks.maintenance.prune", Schedule.DAILY, -1)
    assert Schedule.objects.get(name="retry-due-summaries").minutes == 5
    assert Schedule.objects.filter(name=PRUNE_SCHEDULE).count() == 1


def test_the_due_schedule_queues_the_prune_which_prunes(aged_rows, monkeypatch):
    # The scheduler closes "old" connections first; here that is the test's own transaction: keep it.
    monkeypatch.setattr("django_q.scheduler.close_old_django_connections", lambda: None)
    Schedule.objects.exclude(name=PRUNE_SCHEDULE).update(next_run=timezone.now() + timedelta(days=1))
    Schedule.objects.filter(name=PRUNE_SCHEDULE).update(next_run=timezone.now() - timedelta(seconds=1))
    scheduler(broker=get_broker())  # what the cluster's scheduler runs every ~30 s
    queued = [row.task for row in OrmQ.objects.all()]
    assert [task["func"] for task in queued] == ["tasks.maintenance.prune"]
    assert Schedule.objects.get(name=PRUNE_SCHEDULE).next_run > timezone.now() + timedelta(hours=23)
    result = import_string(queued[0]["func"])(*queued[0]["args"], **queued[0]["kwargs"])
    assert result["notifications"] == 2 and result["task_results"] == 1
