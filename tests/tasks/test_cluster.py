"""A notification over real HTTP, handled by a real qcluster process against PostgreSQL, to a stored
summary; and the task-failure hook, seen from a real cluster."""

import json
import time

import httpx
import pytest
from django_q.tasks import async_task

from ddpui.core.queueing.enqueue import TASK_FAILURE_HOOK
from ddpui.core.summaries.queue import PRODUCE_SESSION_TASK
from ddpui.models import LlmSession, Notification, NotificationStatus, PrefectFlowRun, SummaryStatus

pytestmark = pytest.mark.cluster


def test_http_notification_to_stored_summary_through_the_cluster(live_server, webhook_key, dalgo_runs, qcluster, wait_for):
    run, connections = dalgo_runs.pipeline(connections=1)
    dalgo_runs.sync_subflow(run, connections[0], failed=False)
    dalgo_runs.dbt_task(run)
    sent = time.monotonic()
    response = httpx.post(
        f"{live_server.url}/webhooks/v1/notification/",
        content=json.dumps({"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"}),
        headers={"X-Notification-Key": webhook_key, "Content-Type": "application/json"},
    )
    assert response.json() == {"status": "ok"}
    session = wait_for(
        lambda: LlmSession.objects.filter(flow_run_id=run["id"], status=SummaryStatus.READY).first(),
        what="the stored summary",
    )
    print(f"webhook -> stored summary: {time.monotonic() - sent:.2f}s; stage timings (ms): {session.timings}")
    assert session.failed_step["task_slug"] == "dbt-run"
    assert Notification.objects.get(flow_run_id=run["id"]).status == NotificationStatus.HANDLED
    assert PrefectFlowRun.objects.get(flow_run_id=run["id"]).state_name == "Failed"


def test_failure_hook_marks_the_session_failed_with_the_error(org, qcluster, wait_for):
    # A flow run id that is not a UUID makes the task raise inside the worker (not a dependency error).
    session = LlmSession.objects.create(org=org, flow_run_id="not-a-uuid", step_key="flow:x",
                                        failed_step={"kind": "flow", "label": "x", "flow_run_id": "not-a-uuid"})
    async_task(PRODUCE_SESSION_TASK, session.pk, hook=TASK_FAILURE_HOOK)
    failed = wait_for(
        lambda: LlmSession.objects.filter(pk=session.pk, status=SummaryStatus.FAILED).first(),
        what="the hook to mark the session failed",
    )
    assert failed.last_error.startswith("task failed:") and "UUID" in failed.last_error
    assert failed.next_attempt_at is not None, "a failed summary is retried by our schedule"
