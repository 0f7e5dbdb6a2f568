"""Item 5: missed webhooks. While our app was stopped a run failed and no notification arrived (Prefect's
call-webhook never retries). The scheduled reconciliation finds it in Prefect and feeds it through the handler;
running it again queues nothing."""

import datetime

import pytest
from django_q.models import OrmQ

from ddpui.models import LlmSession, Notification, NotificationStatus, SummaryStatus
from tasks.summaries import reconcile_missed_failures

pytestmark = pytest.mark.cluster


def test_reconciliation_summarizes_failed_runs_no_webhook_announced(
    leaky_runs, llm_api, clusters, broker, wait_for, assert_no_secrets
):
    prefect, now = leaky_runs.runs.prefect, datetime.datetime.now(datetime.timezone.utc)
    failed = leaky_runs.dbt_failure()
    crashed = leaky_runs.dbt_failure(name="amber-fox", state_type="CRASHED", state_name="Crashed")
    # What the reconciliation must leave alone: a run that succeeded, a failed subflow (its root is what counts),
    # a failure older than RECONCILE_LOOKBACK_HOURS, and a failed run of a deployment that is not ours.
    completed = leaky_runs.dbt_failure(name="green-elk", state_type="COMPLETED", state_name="Completed")
    prefect.add_flow_run(name="child", deployment_id=failed["deployment_id"], parent_task_run_id=str(failed["id"]),
                         state_type="FAILED", parameters=failed["parameters"])
    old = leaky_runs.dbt_failure(name="old-owl", start_time=now - datetime.timedelta(hours=30),
                                 end_time=now - datetime.timedelta(hours=29))
    prefect.add_flow_run(name="stranger", deployment_id="0b5f6b0e-0000-4000-8000-000000000001", state_type="FAILED")

    assert reconcile_missed_failures() == 2
    clusters.start()
    wait_for(lambda: LlmSession.objects.filter(status=SummaryStatus.READY).count() == 2 and broker.drained(),
             timeout=30, what="both missed failures summarized")

    assert set(LlmSession.objects.values_list("flow_run_id", flat=True)) == {failed["id"], crashed["id"]}
    assert set(Notification.objects.values_list("body_format", "status")) == {("reconcile", NotificationStatus.HANDLED)}
    assert not Notification.objects.filter(flow_run_id__in=[completed["id"], old["id"]]).exists()
    # Two model calls at most (the second run may reuse the first's summary: same failure, same fingerprint).
    calls = len(llm_api.chat_bodies())
    assert 1 <= calls <= 2
    # The filters reached Prefect: the stand-in refuses (422) any filter it cannot evaluate.
    sent = prefect.requests("POST", "/api/flow_runs/filter")[-1].json
    assert sent["deployments"]["id"]["any_"] and sent["flow_runs"]["parent_task_run_id"]["is_null_"] is True

    # A second run (the next schedule tick) finds nothing new and queues nothing.
    assert reconcile_missed_failures() == 0
    assert not OrmQ.objects.exists()
    assert len(llm_api.chat_bodies()) == calls
    assert_no_secrets()
