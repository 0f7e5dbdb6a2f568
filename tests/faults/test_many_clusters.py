"""Issue 11, item 8: more than one machine. Three qcluster processes (each its own Django-Q2 cluster, with its own
name and workers) on the same PostgreSQL drain a burst of failures; one is SIGKILLed in the middle. Every
summary is stored exactly once, nothing is lost, and the LLM concurrency bound (LLM_MAX_CONCURRENCY) holds
across the clusters, though together they have twice as many workers as the bound."""

import datetime
import json
import re
import time
from collections import Counter

import pytest
from django.db.models import Count
from django.utils import timezone
from django_q.models import OrmQ

from bench.failures import MODEL_NAMES, dbt_log
from ddpui.models import LlmSession, Notification, SummaryStatus
from tasks.summaries import retry_due_summaries
from tasks.webhooks import retry_notifications

pytestmark = pytest.mark.cluster

FAILURES = 60
CLUSTERS = 3
WORKERS_PER_CLUSTER = 2
LLM_BOUND = 3
LLM_SECONDS = 1.0
CLUSTER_NAME = re.compile(r"Q Cluster (\S+) starting")
MODEL_IN_PROMPT = re.compile(r"analytics\.(stg_[a-z]+)")
# No summary stored for this long and nothing waiting: the live clusters are idle (a summary takes ~2 s).
QUIET_SECONDS = 8


def ready() -> int:
    """Stored (ready) failure summaries."""
    return LlmSession.objects.filter(status=SummaryStatus.READY).count()


def settled(seconds: float, wait_for) -> None:
    """Wait until nothing waits in the broker and no summary was stored for `seconds`: the live clusters are
    idle, so every broker row left is one the killed cluster had claimed."""
    state = {"count": -1, "since": time.monotonic()}

    def quiet() -> bool:
        count = ready()
        if count != state["count"]:
            state.update(count=count, since=time.monotonic())
        waiting = OrmQ.objects.filter(lock__lte=timezone.now()).exists()
        return not waiting and time.monotonic() - state["since"] > seconds

    wait_for(quiet, timeout=120, interval=0.2, what="the live clusters to go idle")


def test_three_clusters_drain_a_burst_exactly_once_with_a_global_llm_bound_and_survive_a_kill(
    dalgo_runs, llm_api, webhook, clusters, wait_for, due_now
):
    runs = []
    for index in range(FAILURES):
        run, _ = dalgo_runs.pipeline(connections=0, name=f"burst-{index}")
        # Each run fails in its own model, so no summary is reused from another: one LLM call per failure.
        dalgo_runs.dbt_task(run, lines=dbt_log(MODEL_NAMES[index]))
        runs.append(run)
    llm_api.latency = LLM_SECONDS
    started = [clusters.start(Q_WORKERS=str(WORKERS_PER_CLUSTER), LLM_MAX_CONCURRENCY=str(LLM_BOUND),
                              LLM_TIMEOUT_SECONDS="20") for _ in range(CLUSTERS)]
    wait_for(lambda: len(CLUSTER_NAME.findall(clusters.log_text())) >= CLUSTERS and
             clusters.log_text().count(" running.") >= CLUSTERS, timeout=60, what="three running clusters")
    names = CLUSTER_NAME.findall(clusters.log_text())
    assert len(set(names)) == CLUSTERS, names

    posted = time.monotonic()
    answers = webhook.storm([{"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"}
                             for run in runs])
    assert all(answer.status_code == 200 for answer in answers)

    # Halfway through, one cluster dies at once (the host lost power): workers, sentinel, main process.
    wait_for(lambda: ready() >= FAILURES // 3, timeout=120, what="a third of the summaries")
    peak_before_kill = llm_api.peak_in_flight
    clusters.kill_all(started[1])
    at_kill = ready()
    # The killed workers' requests are still being answered (the provider does not know they died) while
    # PostgreSQL has already freed their slots: leave that one window out of the peak.
    time.sleep(LLM_SECONDS + 0.5)
    calls_before = [body for body in llm_api.chat_bodies()]
    llm_api.clear_requests()

    # Minutes later: the dead cluster's leases have run out; the schedules' sweeps and the broker's own
    # redelivery hand its work to the live clusters (both, so duplicates must be absorbed by the claims).
    settled(QUIET_SECONDS, wait_for)
    due_now(LlmSession, status=SummaryStatus.PENDING)
    due_now(Notification, status__in=["received", "retrying"])
    OrmQ.objects.filter(lock__gt=timezone.now()).update(lock=timezone.now() - datetime.timedelta(seconds=1))
    retry_notifications()
    retry_due_summaries()
    wait_for(lambda: ready() == FAILURES, timeout=180, interval=0.2, what="every summary after the kill")
    drained = time.monotonic() - posted
    time.sleep(2)  # anything that would run twice would show up now

    sessions = LlmSession.objects.all()
    per_run = sessions.values("flow_run_id").annotate(rows=Count("id"))
    bodies = calls_before + llm_api.chat_bodies()
    calls = len(bodies)
    peak = max(peak_before_kill, llm_api.peak_in_flight)
    per_model = Counter(name for body in bodies for name in MODEL_IN_PROMPT.findall(json.dumps(body))[:1])
    print(f"{CLUSTERS} clusters {names} x {WORKERS_PER_CLUSTER} workers, LLM_MAX_CONCURRENCY={LLM_BOUND}, "
          f"LLM {LLM_SECONDS:g} s: {FAILURES} failures drained in {drained:.1f} s; killed one at {at_kill} stored; "
          f"LLM calls {calls} (repeated: {[name for name, n in per_model.items() if n > 1]}); "
          f"peak concurrent LLM calls {peak} (before the kill {peak_before_kill}, after {llm_api.peak_in_flight})")
    assert sessions.count() == FAILURES and all(row["rows"] == 1 for row in per_run)
    assert set(sessions.values_list("flow_run_id", flat=True)) == {run["id"] for run in runs}
    assert all(session.provider == "openai" for session in sessions)
    assert Notification.objects.count() == FAILURES
    # Only requests the killed cluster had in flight are repeated (at most one per worker it had).
    assert FAILURES <= calls <= FAILURES + WORKERS_PER_CLUSTER
    assert peak <= LLM_BOUND, "the bound holds across clusters"
    assert peak == LLM_BOUND, "the clusters had more workers than the bound and used it"
