"""Reconciliation: a failed run whose webhook came but whose summary task was lost still gets its summary."""

import datetime

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from ddpui.core.summaries.queue import SUMMARIZE_FLOW_RUN_TASK
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import Notification
from tasks.summaries import reconcile_missed_failures

pytestmark = pytest.mark.django_db


def test_a_lost_summary_task_is_queued_again_but_not_a_recent_one(dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0)
    record_notification(ParsedNotification(flow_run_id=run["id"], state_name="Failed", state_type="FAILED",
                                           body_format="text"))
    OrmQ.objects.all().delete()
    assert reconcile_missed_failures() == 0, "a fresh notification's summary may still be on its way"
    Notification.objects.update(received_at=timezone.now() - datetime.timedelta(hours=1))
    assert reconcile_missed_failures() == 1
    assert [row.task["func"] for row in OrmQ.objects.all()] == [SUMMARIZE_FLOW_RUN_TASK]


def test_a_missed_dbt_test_failed_run_is_recorded_like_a_failed_one(dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0, dbt_slugs=("dbt-test",), state_type="COMPLETED",
                                 state_name="DBT_TEST_FAILED")
    completed, _ = dalgo_runs.pipeline(connections=0, state_type="COMPLETED", state_name="Completed")
    assert reconcile_missed_failures() == 1
    notification = Notification.objects.get()
    assert (notification.flow_run_id, notification.state_name) == (run["id"], "DBT_TEST_FAILED")
    assert completed["id"] != notification.flow_run_id
