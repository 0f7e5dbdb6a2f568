"""Item 1: a storm of duplicate notifications over real HTTP makes one handler run per distinct notification,
one summary row and one LLM request (Prefect's custom webhook retries blindly; Django-Q2 is at-least-once)."""

import uuid

import pytest

from ddpui.core.summaries.queue import SUMMARIZE_FLOW_RUN_TASK
from ddpui.models import (
    DeliveryStatus,
    FailureDelivery,
    LlmSession,
    Notification,
    NotificationStatus,
    PrefectFlowRun,
    SummaryStatus,
    TaskLock,
)

pytestmark = pytest.mark.cluster

IDENTICAL_DELIVERIES = 50


def test_duplicate_storm_makes_one_summary_and_one_llm_call(
    leaky_runs, llm_api, webhook, clusters, broker, wait_for, assert_no_secrets
):
    run = leaky_runs.dbt_failure()
    # A slow model widens the window in which a second summary task could slip in.
    llm_api.latency = 1.0
    clusters.start()
    event_id = str(uuid.uuid4())
    failed_text = {"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"}
    automation = {
        "event": "prefect.flow-run.Failed", "event_id": event_id, "flow_run_id": run["id"],
        "flow_run_name": run["name"], "deployment_id": run["deployment_id"], "parent_task_run_id": None,
        "state_type": "FAILED", "state_name": "Failed", "state_message": "Flow run encountered an exception.",
        "parameters": run["parameters"],
    }
    others = [{"body": f"Flow run {run['name']} with id {run['id']} entered state {state}"} for state in ("Pending", "Running")]
    bodies = [failed_text] * IDENTICAL_DELIVERIES + [automation] * 4 + others

    responses = webhook.storm(bodies)

    assert [r.status_code for r in responses] == [200] * len(bodies), {r.status_code for r in responses}
    assert all(r.json() == {"status": "ok"} for r in responses)
    # Distinct notifications: the text Failed, the automation event, Pending and Running.
    notifications = Notification.objects.filter(flow_run_id=run["id"])
    assert sorted(notifications.values_list("dedupe_key", flat=True)) == sorted(
        [f"event:{event_id}"] + [f"state:{run['id']}:{state}" for state in ("Failed", "Pending", "Running")]
    )
    wait_for(lambda: not notifications.exclude(status=NotificationStatus.HANDLED).exists()
             and LlmSession.objects.filter(flow_run_id=run["id"], status=SummaryStatus.READY).exists()
             and broker.drained(),
             timeout=40, what="every notification handled, the summary stored and the queue empty")

    assert broker.handler_runs() == {n.pk: 1 for n in notifications}, "one handler run per notification"
    # Only the two Failed notifications queue a summary (a late Pending/Running one must not, though Prefect
    # now says Failed); the row's unique key and its lease make the two one model call.
    assert len(broker.results(SUMMARIZE_FLOW_RUN_TASK)) == 2
    assert LlmSession.objects.filter(flow_run_id=run["id"]).count() == 1
    assert len(llm_api.chat_bodies()) == 1
    session = LlmSession.objects.get(flow_run_id=run["id"])
    assert session.provider == "openai" and session.attempts == 1
    # Pending and Running, handled in any order, neither regress the run's record nor leave task locks.
    assert PrefectFlowRun.objects.get(flow_run_id=run["id"]).state_name == "Failed"
    assert not TaskLock.objects.filter(flow_run_id=run["id"]).exists()
    # The console email backend prints to the cluster's log: one email for the failure, though it came in two
    # delivery styles (text body, automation event), and none for the Pending/Running notifications.
    # The failure email goes out once the summary is stored (console email backend: the cluster's log).
    wait_for(lambda: FailureDelivery.objects.filter(flow_run_id=run["id"], status=DeliveryStatus.SENT).exists(),
             timeout=30, what="the failure email sent")
    assert FailureDelivery.objects.filter(flow_run_id=run["id"]).count() == 1
    assert clusters.log_text().count(f"Run: {run['name']} ({run['id']})") == 1
    assert_no_secrets()
