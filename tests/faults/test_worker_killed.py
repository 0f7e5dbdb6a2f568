"""Item 2: a worker SIGKILLed while its LLM request is in flight (or the whole cluster killed and replaced):
the summary still completes, the row is never stuck pending, and at most the in-flight request is repeated."""

import pytest

from ddpui.models import LlmSession, SummaryStatus
from tasks.summaries import retry_due_summaries

pytestmark = pytest.mark.cluster

# Long enough to be caught in flight; the model's timeout is longer, so only the kill ends the request.
SLOW_LLM_SECONDS = 5


@pytest.mark.parametrize("kill", ["worker", "cluster"])
def test_summary_completes_after_a_kill_mid_request(
    kill, leaky_runs, llm_api, webhook, clusters, wait_for, due_now, assert_no_secrets
):
    run = leaky_runs.dbt_failure()
    llm_api.latency = SLOW_LLM_SECONDS
    cluster = clusters.start(LLM_TIMEOUT_SECONDS="20")
    webhook.post({"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"})
    wait_for(lambda: llm_api.in_flight == 1, timeout=20, what="the LLM request in flight")

    if kill == "worker":
        clusters.kill_worker_connected_to(cluster, llm_api.port)
    else:
        clusters.kill_all(cluster)
    llm_api.latency = 0

    session = LlmSession.objects.get(flow_run_id=run["id"])
    assert session.status == SummaryStatus.PENDING
    # Not stuck: the claim itself scheduled a retry for when the dead worker's lease runs out.
    assert session.next_attempt_at is not None and session.lease_until is not None
    assert session.next_attempt_at >= session.lease_until
    if kill == "worker":
        # The sentinel replaced the worker: the same cluster goes on.
        wait_for(lambda: "reincarnated worker" in clusters.log_text(), timeout=10, what="a new worker")
        assert cluster.is_running()
    else:
        clusters.start()

    # Minutes later (the lease has run out), the retry schedule's sweep queues the row again.
    due_now(LlmSession, pk=session.pk)
    assert retry_due_summaries() == 1
    done = wait_for(lambda: LlmSession.objects.filter(pk=session.pk, status=SummaryStatus.READY).first(),
                    timeout=30, what="the summary after the kill")

    assert done.provider == "openai" and done.next_attempt_at is None and done.lease_until is None
    assert len(llm_api.chat_bodies()) == 2, "only the killed in-flight request is repeated"
    assert retry_due_summaries() == 0
    assert_no_secrets()
