"""Item 4: Prefect or Airbyte slow (beyond our HTTP timeout) or down while the handler runs. The notification is
kept and retried with backoff; the steps that do not need the missing service still run; once it is back,
nothing is lost: the run is recorded, the email sent once, the Airbyte jobs stored, the summary ready."""

import pytest

from ddpui.models import (
    AirbyteJob,
    DeliveryStatus,
    FailureDelivery,
    LlmSession,
    Notification,
    NotificationStatus,
    PrefectFlowRun,
    SummaryStatus,
)
from tasks.webhooks import retry_notifications

pytestmark = pytest.mark.cluster

CLUSTER_ENV = {
    "PREFECT_HTTP_TIMEOUT_SECONDS": "0.5",
    "AIRBYTE_HTTP_TIMEOUT_SECONDS": "0.5",
    # prefect-client retries 5xx and connection errors 5 times with 2-32 s backoff by itself; one retry keeps
    # this test short and still shows that a slow Prefect fails the step instead of hanging the worker.
    "PREFECT_CLIENT_MAX_RETRIES": "1",
}
SLOW_SECONDS = 2.5


def flow_run_path(run: dict) -> str:
    """Prefect's read-flow-run endpoint for the run."""
    return f"/api/flow_runs/{run['id']}"


# case -> (service, how it misbehaves, body format, the step that must fail first, steps that must still run)
CASES = {
    "prefect down": ("prefect", {"status": 500}, "text", "read_flow_run", set()),
    "prefect slow": ("prefect", {"delay": SLOW_SECONDS}, "automation", "read_flow_run", {"failure_email"}),
    "airbyte down": ("airbyte", {"status": 503}, "text", "airbyte_jobs", {"flow_run_record", "failure_email", "enqueue_summary"}),
    "airbyte slow": ("airbyte", {"delay": SLOW_SECONDS}, "automation", "airbyte_jobs", {"flow_run_record", "failure_email", "enqueue_summary"}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_dependency_fault_while_the_handler_runs_loses_nothing(
    case, leaky_runs, llm_api, webhook, clusters, wait_for, due_now, assert_no_secrets
):
    service, fault, body_format, failing_step, still_ran = CASES[case]
    run, connection_id = leaky_runs.sync_failure()
    if service == "prefect":
        # Slow Prefect: one try beyond the deadline; a read cut by its deadline is not retried by prefect-client
        # (ddpui/clients/deadline.py), so the next read is the retry schedule's, once Prefect is back.
        leaky_runs.runs.prefect.add_fault(flow_run_path(run), times=1, **fault)
    else:
        leaky_runs.runs.airbyte.add_fault("/api/v1/jobs/list", **fault)
    clusters.start(**CLUSTER_ENV)
    if body_format == "text":
        body = {"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"}
    else:
        body = {"event_id": None, "flow_run_id": run["id"], "flow_run_name": run["name"], "state_type": "FAILED",
                "state_name": "Failed", "deployment_id": run["deployment_id"], "parameters": run["parameters"],
                "state_message": "Flow run encountered an exception."}
    assert webhook.post(body).json() == {"status": "ok"}

    notification = wait_for(
        lambda: Notification.objects.filter(flow_run_id=run["id"], status=NotificationStatus.RETRYING).first(),
        timeout=30, what="the notification kept for a retry",
    )
    assert failing_step in notification.step_errors, notification.step_errors
    assert notification.next_attempt_at is not None
    assert still_ran <= set(notification.steps_done), (notification.steps_done, notification.step_errors)

    # The service is back (the fault was for these calls only); the retry schedule's sweep runs when due.
    due_now(Notification, pk=notification.pk)
    assert retry_notifications() == 1
    wait_for(lambda: Notification.objects.filter(pk=notification.pk, status=NotificationStatus.HANDLED).exists()
             and LlmSession.objects.filter(flow_run_id=run["id"], status=SummaryStatus.READY).exists(),
             timeout=30, what="the notification handled and the summary ready")

    assert PrefectFlowRun.objects.get(flow_run_id=run["id"]).state_name == "Failed"
    assert AirbyteJob.objects.filter(config_id=connection_id, status="failed").exists()
    # The failure email goes out once the summary is stored (console email backend: the cluster's log).
    wait_for(lambda: FailureDelivery.objects.filter(flow_run_id=run["id"], status=DeliveryStatus.SENT).exists(),
             timeout=30, what="the failure email sent")
    assert clusters.log_text().count(f"Run: {run['name']} ({run['id']})") == 1, "the failure email, exactly once"
    session = LlmSession.objects.get(flow_run_id=run["id"])
    assert session.failed_step["kind"] == "airbyte" and session.failed_step["airbyte_job_id"]
    assert "lacks scope marketing.read" in session.excerpt, "Airbyte's own failure reason is in the evidence"
    assert_no_secrets()
