"""The notification handler's steps, against Prefect and Airbyte stand-ins on real sockets."""

import datetime
import uuid

import pytest
from django.core import mail
from django_q.models import OrmQ

from ddpui.core.notify.deliveries import OPEN, deliver
from ddpui.core.webhooks.handler import handle_notification
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import (
    AirbyteJob,
    FailureDelivery,
    LlmSession,
    Notification,
    NotificationStatus,
    OrgTask,
    PrefectFlowRun,
    SummaryStatus,
    TaskLock,
)
from tasks.summaries import summarize_flow_run_failure

pytestmark = pytest.mark.django_db


def notify(run: dict, state_name: str, **extra) -> Notification:
    """Record a text-body notification for a stand-in flow run."""
    notification, _ = record_notification(
        ParsedNotification(
            flow_run_id=run["id"], state_name=state_name, state_type="", body_format="text",
            flow_run_name=run["name"], **extra,
        )
    )
    return notification


def emails_sent() -> int:
    """Send the planned failure deliveries now (not waiting for the summary), then count the emails sent."""
    for delivery_id in FailureDelivery.objects.filter(status__in=OPEN).values_list("pk", flat=True):
        deliver(delivery_id)
    return len(mail.outbox)


def queued_funcs() -> list[str]:
    """The functions of the tasks waiting in the queue."""
    return [row.task["func"] for row in OrmQ.objects.all()]


@pytest.fixture
def failed_pipeline_run(prefect_api, airbyte_api, make_dataflow, manager):
    """A failed deployment run of a pipeline with two syncs and dbt-run; jobs of both connections in Airbyte."""
    connections = [str(uuid.uuid4()), str(uuid.uuid4())]
    dataflow, parameters = make_dataflow(connections)
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=3)
    run = prefect_api.add_flow_run(
        name="crimson-owl", deployment_id=dataflow.deployment_id, parameters=parameters,
        state_type="FAILED", state_name="Failed", message="Flow run encountered an exception", start_time=start,
    )
    airbyte_api.add_job(connections[0], "succeeded", start + datetime.timedelta(seconds=5))
    airbyte_api.add_job(connections[1], "failed", start + datetime.timedelta(seconds=30))
    airbyte_api.add_job(connections[1], "failed", start - datetime.timedelta(days=7))  # not this run's
    return run, dataflow, connections


def test_failed_run_records_row_releases_locks_emails_syncs_jobs_and_queues_summary(failed_pipeline_run):
    run, dataflow, connections = failed_pipeline_run
    for orgtask in OrgTask.objects.all():
        TaskLock.objects.create(orgtask=orgtask, flow_run_id=run["id"])
    notification = notify(run, "Failed")
    OrmQ.objects.all().delete()

    outcome = handle_notification(notification.id)

    row = PrefectFlowRun.objects.get(flow_run_id=run["id"])
    assert (row.state_name, row.status, row.deployment_id) == ("Failed", "FAILED", dataflow.deployment_id)
    assert TaskLock.objects.count() == 0
    assert emails_sent() == 1 and mail.outbox[0].to == ["manager@ngo.test"]
    assert set(AirbyteJob.objects.values_list("config_id", flat=True)) == set(connections)
    assert AirbyteJob.objects.count() == 2, "the week-old job is outside the run's window"
    assert queued_funcs() == ["tasks.summaries.summarize_flow_run_failure"]
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.HANDLED, outcome
    assert notification.steps_done == ["airbyte_jobs", "enqueue_summary", "failure_email", "flow_run_record"]


def test_state_read_from_prefect_wins_over_a_stale_message(failed_pipeline_run):
    run, _, _ = failed_pipeline_run
    notification = notify(run, "Running")  # delivered late: Prefect already says Failed
    handle_notification(notification.id)
    assert PrefectFlowRun.objects.get(flow_run_id=run["id"]).state_name == "Failed"


def test_pending_takes_locks_and_completed_releases_them(prefect_api, make_dataflow):
    dataflow, parameters = make_dataflow([str(uuid.uuid4())])
    run = prefect_api.add_flow_run(deployment_id=dataflow.deployment_id, parameters=parameters,
                                   state_type="PENDING", state_name="Pending")
    handle_notification(notify(run, "Pending").id)
    assert TaskLock.objects.filter(flow_run_id=run["id"]).count() == 2
    prefect_api.set_flow_run_state(run["id"], "COMPLETED", "Completed")
    handle_notification(notify(run, "Completed").id)
    assert TaskLock.objects.count() == 0
    assert PrefectFlowRun.objects.get(flow_run_id=run["id"]).status == "COMPLETED"
    assert "tasks.summaries.summarize_flow_run_failure" not in queued_funcs()
    assert emails_sent() == 0


@pytest.mark.parametrize("state_type, state_name", [("CRASHED", "Crashed"), ("FAILED", "TimedOut")])
def test_crashed_and_timed_out_runs_get_a_summary_queued(prefect_api, make_dataflow, manager, state_type, state_name):
    dataflow, parameters = make_dataflow([])
    run = prefect_api.add_flow_run(deployment_id=dataflow.deployment_id, parameters=parameters,
                                   state_type=state_type, state_name=state_name)
    notification = notify(run, state_name)
    OrmQ.objects.all().delete()
    handle_notification(notification.id)
    assert queued_funcs() == ["tasks.summaries.summarize_flow_run_failure"]
    assert emails_sent() == 1


def test_subflow_notification_queues_no_summary(prefect_api, make_dataflow):
    _, parameters = make_dataflow([])
    child = prefect_api.add_flow_run(parent_task_run_id=str(uuid.uuid4()), state_type="FAILED", parameters=parameters)
    notification = notify(child, "Failed")
    OrmQ.objects.all().delete()
    handle_notification(notification.id)
    assert queued_funcs() == []


def test_airbyte_down_keeps_the_notification_and_retries_only_that_step(failed_pipeline_run, airbyte_api):
    run, _, connections = failed_pipeline_run
    airbyte_api.add_fault("/api/v1/jobs/list", status=503, times=100)
    notification = notify(run, "Failed")
    handle_notification(notification.id)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.RETRYING
    assert "airbyte_jobs" in notification.step_errors
    assert {"flow_run_record", "failure_email", "enqueue_summary"} <= set(notification.steps_done)
    assert notification.next_attempt_at is not None
    airbyte_api.clear_faults()
    handle_notification(notification.id)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.HANDLED
    assert emails_sent() == 1, "the retry does not email twice"
    assert AirbyteJob.objects.count() == 2


def test_prefect_down_falls_back_to_the_message_and_retries(settings, failed_pipeline_run):
    run, _, _ = failed_pipeline_run
    notification = notify(run, "Failed")
    settings.PREFECT_API_URL = "http://127.0.0.1:9/api"  # nothing listens on the discard port
    handle_notification(notification.id)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.RETRYING
    assert "read_flow_run" in notification.step_errors
    assert not PrefectFlowRun.objects.exists(), "a row is not written from a message alone"


def test_one_bad_job_does_not_stop_the_rest(failed_pipeline_run, airbyte_api):
    run, _, connections = failed_pipeline_run
    bad = airbyte_api.add_job(connections[0], "failed", datetime.datetime.now(datetime.timezone.utc))
    airbyte_api.add_fault("/api/v1/jobs/get_without_logs", status=500, times=1)
    notification = notify(run, "Failed")
    handle_notification(notification.id)
    assert AirbyteJob.objects.count() == 2  # three listed, one failed to fetch
    notification.refresh_from_db()
    assert "airbyte_jobs" in notification.step_errors and bad


def test_unknown_flow_run_fails_the_notification_for_good(prefect_api, db):
    notification = notify({"id": str(uuid.uuid4()), "name": "ghost"}, "Failed")
    handle_notification(notification.id)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED


def test_a_handled_notification_is_not_handled_again(failed_pipeline_run):
    run, _, _ = failed_pipeline_run
    notification = notify(run, "Failed")
    handle_notification(notification.id)
    assert handle_notification(notification.id) == {"skipped": "already handled"}
    assert emails_sent() == 1


def test_a_failing_summary_hook_point_undoes_and_skips_nothing(failed_pipeline_run, monkeypatch):
    run, _, _ = failed_pipeline_run

    def broken_enqueue(flow_run_id):
        raise RuntimeError("queue unavailable")

    # Fault injection at our own seam: the hook point must be isolated from everything before it.
    monkeypatch.setattr("ddpui.core.webhooks.handler.enqueue_flow_run_summary", broken_enqueue)
    notification = notify(run, "Failed")
    handle_notification(notification.id)
    notification.refresh_from_db()
    assert set(notification.steps_done) == {"flow_run_record", "failure_email", "airbyte_jobs"}
    assert "enqueue_summary" in notification.step_errors
    assert PrefectFlowRun.objects.filter(flow_run_id=run["id"]).exists() and emails_sent() == 1


def test_one_failure_told_in_two_delivery_styles_is_emailed_once(failed_pipeline_run):
    run, _, _ = failed_pipeline_run
    text = notify(run, "Failed")
    automation = notify(run, "Failed", event_id="0b9f6a52-7a8b-4d38-9b7e-3c1d1a0e9a11")
    assert text.pk != automation.pk
    handle_notification(text.id)
    handle_notification(automation.id)
    assert emails_sent() == 1
    automation.refresh_from_db()
    assert automation.status == NotificationStatus.HANDLED


DBT_TEST_LOG = [
    "Running with dbt=1.8.2",
    "Found 12 models, 30 data tests, 2 sources",
    "1 of 30 START test not_null_stg_customers_id ............ [RUN]",
    "1 of 30 FAIL 3 not_null_stg_customers_id ................ [FAIL 3 in 0.05s]",
    "2 of 30 PASS unique_stg_customers_id .................... [PASS in 0.04s]",
    "Failure in test not_null_stg_customers_id (models/staging/schema.yml)",
    "  Got 3 results, configured to fail if != 0",
    "Done. PASS=29 WARN=0 ERROR=1 SKIP=0 TOTAL=30",
]


def test_dbt_test_failed_run_is_summarized_end_to_end_from_its_failing_tests(client, webhook_key, dalgo_runs):
    # Dalgo's dbt-test step returns State(COMPLETED, name="DBT_TEST_FAILED") and the run ends that way too.
    run, _ = dalgo_runs.pipeline(connections=0, dbt_slugs=("dbt-run", "dbt-test"), state_type="COMPLETED",
                                 state_name="DBT_TEST_FAILED", message="WARNING: dbt test failed")
    dalgo_runs.dbt_task(run, "dbt-run", failed=False, lines=["Done. PASS=12 WARN=0 ERROR=0 SKIP=0 TOTAL=12"])
    test_task = dalgo_runs.dbt_task(run, "dbt-test", lines=DBT_TEST_LOG, state_type="COMPLETED",
                                    state_name="DBT_TEST_FAILED")
    body = {"body": f"Flow run {run['name']} with id {run['id']} entered state DBT_TEST_FAILED"}
    response = client.post("/webhooks/v1/notification/", body, content_type="application/json",
                           HTTP_X_NOTIFICATION_KEY=webhook_key)
    assert response.status_code == 200
    notification = Notification.objects.get(flow_run_id=run["id"])
    OrmQ.objects.all().delete()

    outcome = handle_notification(notification.id)

    assert outcome["enqueue_summary"] == "summary queued"
    assert queued_funcs() == ["tasks.summaries.summarize_flow_run_failure"]
    assert PrefectFlowRun.objects.get(flow_run_id=run["id"]).state_name == "DBT_TEST_FAILED"
    # What the queued task does on the cluster:
    summarize_flow_run_failure(*OrmQ.objects.get().task["args"])
    session = LlmSession.objects.get(flow_run_id=run["id"])
    assert session.status == SummaryStatus.READY and session.trigger == "failure"
    assert session.task_id == test_task["id"] and session.failed_step["task_slug"] == "dbt-test"
    assert session.category == "data_quality_test"
    evidence = " ".join(line["text"] for line in session.evidence)
    assert "not_null_stg_customers_id" in evidence
    assert "Got 3 results" in session.excerpt


def test_a_completed_run_with_passing_tests_is_not_summarized(prefect_api, make_dataflow):
    dataflow, parameters = make_dataflow([], ["dbt-test"])
    run = prefect_api.add_flow_run(deployment_id=dataflow.deployment_id, parameters=parameters,
                                   state_type="COMPLETED", state_name="Completed")
    OrmQ.objects.all().delete()
    handle_notification(notify(run, "Completed").id)
    assert "tasks.summaries.summarize_flow_run_failure" not in queued_funcs()


def test_a_step_error_quoting_a_secret_is_stored_redacted(failed_pipeline_run, monkeypatch):
    run, _, _ = failed_pipeline_run

    def broken_enqueue(flow_run_id):
        raise RuntimeError(repr({"broker": "postgresql://dalgo:Broker5ecret@db/crm", "password": "Hunter9pw"}))

    monkeypatch.setattr("ddpui.core.webhooks.handler.enqueue_flow_run_summary", broken_enqueue)
    notification = notify(run, "Failed")
    handle_notification(notification.id)
    notification.refresh_from_db()
    error = notification.step_errors["enqueue_summary"]
    assert error.startswith("RuntimeError: ") and "[REDACTED:password]" in error
    assert "Broker5ecret" not in error and "Hunter9pw" not in error
