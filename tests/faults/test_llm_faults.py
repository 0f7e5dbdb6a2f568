"""Item 3: the LLM answers 500, 429 with Retry-After, times out, or answers what is not JSON. Meanwhile the
offline summary is stored and shown (marked provider "offline"); our own schedule retries transient faults with
backoff (the broker never redelivers), not a message that is not the JSON asked for (at temperature 0 the same
request gets the same answer); the model's summary replaces it; after SUMMARY_MAX_ATTEMPTS the row says why."""

import datetime

import pytest
from django.utils import timezone

from ddpui.core.summaries.queue import PRODUCE_SESSION_TASK
from ddpui.models import LlmSession, SummaryStatus
from standins.llm_api import CHAT_PATH
from tasks.summaries import retry_due_summaries

pytestmark = pytest.mark.cluster

BASE_SECONDS = 10
RETRY_AFTER_SECONDS = 300
CLUSTER_ENV = {"LLM_TIMEOUT_SECONDS": "1", "SUMMARY_RETRY_BASE_SECONDS": str(BASE_SECONDS)}


def inject(llm_api, fault: str) -> None:
    """Make the next chat request misbehave as `fault` says."""
    if fault == "500":
        llm_api.fail_next(500)
    elif fault == "429":
        llm_api.fail_next(429, retry_after=RETRY_AFTER_SECONDS)
    elif fault == "timeout":
        llm_api.delay_next(3)  # beyond LLM_TIMEOUT_SECONDS=1
    elif fault == "body not json":
        llm_api.add_fault(CHAT_PATH, invalid_json=True)
    else:  # "content not json": a 200 whose message is prose, not the JSON asked for
        llm_api.add_content("Sorry, I cannot help with that request.")


# fault -> what last_error must say, and the retry delay expected after that try (attempt n: base * 2**(n-1)).
FAULTS = [
    ("500", "HTTP 500", BASE_SECONDS),
    ("429", "rate limit", RETRY_AFTER_SECONDS),  # Retry-After (300 s) wins over the backoff (20 s)
    ("timeout", "timed out", BASE_SECONDS * 4),
    ("body not json", "not JSON", BASE_SECONDS * 8),
]


def wait_attempts(wait_for, session_id: int, attempts: int) -> LlmSession:
    """The row once its `attempts`-th try is stored."""
    return wait_for(lambda: LlmSession.objects.filter(pk=session_id, attempts=attempts, lease_until=None).first(),
                    timeout=20, what=f"try {attempts} stored")


def assert_delay(session: LlmSession, seconds: float) -> None:
    """next_attempt_at is `seconds` after the try ended (within the test's own slack)."""
    expected = session.updated_at + datetime.timedelta(seconds=seconds)
    assert abs((session.next_attempt_at - expected).total_seconds()) < 3, (session.next_attempt_at, expected)


def test_llm_faults_are_retried_with_backoff_and_the_offline_summary_is_shown_meanwhile(
    leaky_runs, llm_api, webhook, clusters, broker, read_summary, wait_for, due_now, assert_no_secrets, settings
):
    run = leaky_runs.dbt_failure()
    settings.SUMMARY_MAX_ATTEMPTS = 6  # the sweep runs in this process: same limit as the cluster's
    clusters.start(SUMMARY_MAX_ATTEMPTS="6", **CLUSTER_ENV)
    inject(llm_api, FAULTS[0][0])
    webhook.post({"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"})
    session_id = wait_for(lambda: LlmSession.objects.filter(flow_run_id=run["id"]).values_list("pk", flat=True).first(),
                          what="the summary row")

    for attempt, (fault, error, delay) in enumerate(FAULTS, 1):
        if attempt > 1:
            inject(llm_api, fault)
            due_now(LlmSession, pk=session_id)
            assert retry_due_summaries() == 1
        session = wait_attempts(wait_for, session_id, attempt)
        assert session.status == SummaryStatus.READY and session.provider == "offline", fault
        assert session.last_error.startswith("LLM: ") and error in session.last_error, (fault, session.last_error)
        assert_delay(session, delay)
        shown = read_summary(run["id"])
        assert shown["status"] == "ready" and shown["provider"] == "offline" and shown["title"]

    # A message that is not the JSON asked for: stored with the reason, not scheduled again.
    inject(llm_api, "content not json")
    due_now(LlmSession, pk=session_id)
    assert retry_due_summaries() == 1
    session = wait_attempts(wait_for, session_id, len(FAULTS) + 1)
    assert session.provider == "offline" and "holds no JSON" in session.last_error
    assert session.next_attempt_at is None, "a deterministic format failure is not retried"

    # The model is back (an operator asks again): its summary replaces the offline one.
    due_now(LlmSession, pk=session_id)
    assert retry_due_summaries() == 1
    session = wait_attempts(wait_for, session_id, len(FAULTS) + 2)
    assert session.provider == "openai" and session.last_error == "" and session.next_attempt_at is None
    assert read_summary(run["id"])["provider"] == "openai"
    # One request per try (no SDK retries, no broker redelivery): every produce task succeeded once.
    assert len(llm_api.chat_bodies()) == len(FAULTS) + 2
    retries = broker.results(PRODUCE_SESSION_TASK)
    assert len(retries) == len(FAULTS) + 1 and all(task.success for task in retries)
    assert_no_secrets()


def test_after_the_last_attempt_the_row_says_why(
    leaky_runs, llm_api, webhook, clusters, read_summary, wait_for, due_now, assert_no_secrets, settings
):
    run = leaky_runs.dbt_failure()
    settings.SUMMARY_MAX_ATTEMPTS = 2  # the sweep runs in this process: same limit as the cluster's
    clusters.start(SUMMARY_MAX_ATTEMPTS="2", **CLUSTER_ENV)
    llm_api.fail_next(503, times=5)
    webhook.post({"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"})
    session_id = wait_for(lambda: LlmSession.objects.filter(flow_run_id=run["id"]).values_list("pk", flat=True).first(),
                          what="the summary row")
    wait_attempts(wait_for, session_id, 1)
    due_now(LlmSession, pk=session_id)
    assert retry_due_summaries() == 1
    session = wait_attempts(wait_for, session_id, 2)

    assert session.next_attempt_at is None, "no retry after SUMMARY_MAX_ATTEMPTS"
    assert session.last_error.startswith("LLM: LLM answered HTTP 503")
    # The offline summary stays readable, marked as such.
    assert session.status == SummaryStatus.READY and read_summary(run["id"])["provider"] == "offline"
    assert retry_due_summaries() == 0
    assert len(llm_api.chat_bodies()) == 2
    assert session.updated_at > timezone.now() - datetime.timedelta(minutes=1)
    assert_no_secrets()
