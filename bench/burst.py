"""1,000 failure notifications in one burst, drained by one cluster and then by three on the same database:
every summary stored exactly once, the time to drain, and the peak number of concurrent LLM calls, which
LLM_MAX_CONCURRENCY bounds across all clusters.

Run from the repository root: ``python -m bench.burst [--workers 16] [--failures 1000] [--clusters 1 3]
[--llm-bound 16] [--unbounded]``. For each cluster count it drops, creates and migrates `ddpui_bench`, adds the
failed runs to the Prefect stand-in (each with its own dbt error, so no summary is reused from another), starts
gunicorn (2 gthread workers x 8 threads) and that many real qclusters of Q_WORKERS workers each (separate
processes, as separate hosts would run them), posts the burst from 16 concurrent clients, and waits for the
drain. The Prefect, Airbyte and LLM stand-ins (1 s per call) run in this process. `--unbounded` adds a run of
the largest cluster count with LLM_MAX_CONCURRENCY=0, to show what the global bound prevents.
"""

import argparse
import sys
import time
from dataclasses import dataclass

from django.db import connections  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import bench_django  # noqa: F401  (before any model import: Django set up on the bench database)
from bench.failures import add_failed_run, bench_org, deployment, failure_body  # noqa: E402
from bench.load import closed_loop, table  # noqa: E402
from bench.processes import (  # noqa: E402
    WEBHOOK_KEY,
    bench_env,
    fresh_database,
    run_directory,
    start_gunicorn,
)
from ddpui.models import LlmSession, Notification, SummaryStatus  # noqa: E402
from harness.app import start_cluster  # noqa: E402
from harness.processes import ProcessStack, wait_until  # noqa: E402
from standins.airbyte_api import AirbyteStandin  # noqa: E402
from standins.llm_api import LlmStandin  # noqa: E402
from standins.prefect_api import PrefectStandin  # noqa: E402

LLM_LATENCY_SECONDS = 1.0
DRAIN_TIMEOUT_SECONDS = 900


@dataclass
class BurstRun:
    """What one configuration measured."""

    clusters: int
    llm_bound: int
    posted_seconds: float
    ok: int
    drain_seconds: float
    observed_seconds: float
    summary_rows: int
    distinct_runs: int
    llm_calls: int
    peak: int
    notifications: int


def ready_count() -> int:
    """Stored (ready) failure summaries."""
    return LlmSession.objects.filter(trigger="failure", status=SummaryStatus.READY).count()


def run_burst(*, clusters: int, workers: int, failures: int, llm_bound: int, prefect, airbyte, llm) -> BurstRun:
    """One configuration, on a fresh database: start, post, drain, count; every process stopped after."""
    run_dir = run_directory(f"burst-{clusters}")
    stack = ProcessStack(run_dir)
    llm.clear_requests()
    try:
        env = bench_env(run_dir, prefect_api_url=prefect.api_url, airbyte_port=airbyte.port,
                        openai_base_url=llm.base_url, Q_WORKERS=str(workers), LLM_MAX_CONCURRENCY=str(llm_bound))
        connections.close_all()  # the database is dropped and made again
        fresh_database(env, run_dir)
        org, _ = bench_org()
        deployment_id, parameters = deployment(org)
        runs = [add_failed_run(prefect, deployment_id, parameters, index) for index in range(failures)]
        _, base_url = start_gunicorn(stack, env, workers=2, threads=8)
        started_clusters = [start_cluster(stack, env, name=f"qcluster-{number}") for number in range(clusters)]
        started_at, started = timezone.now(), time.monotonic()
        burst = closed_loop(base_url, lambda client, i: client.post(
            "/webhooks/v1/notification/", json=failure_body(runs[i]), headers={"X-Notification-Key": WEBHOOK_KEY}),
            total=failures, concurrency=16)

        def progress(elapsed: float) -> None:
            """A line every ~10 s while the queue drains."""
            if int(elapsed) % 10 == 0:
                print(f"  {clusters} cluster(s) {elapsed:5.0f} s: {ready_count()} of {failures} stored, "
                      f"LLM peak {llm.peak_in_flight}", flush=True)

        wait_until(lambda: ready_count() >= failures, timeout=DRAIN_TIMEOUT_SECONDS, what="the drain",
                   watch=started_clusters, interval=1.0, progress=progress)
        observed = time.monotonic() - started
        time.sleep(2)  # anything that would run twice would show up now
        last_stored = LlmSession.objects.aggregate(last=Max("updated_at"))["last"]
        sessions = LlmSession.objects.filter(trigger="failure")
        result = BurstRun(
            clusters=clusters, llm_bound=llm_bound, posted_seconds=burst.seconds, ok=burst.ok,
            drain_seconds=(last_stored - started_at).total_seconds(), observed_seconds=observed,
            summary_rows=sessions.count(), distinct_runs=sessions.values("flow_run_id").distinct().count(),
            llm_calls=llm.request_count, peak=llm.peak_in_flight, notifications=Notification.objects.count(),
        )
    finally:
        stack.stop_all()
    print(f"  logs in {run_dir}", flush=True)
    return result


def main() -> None:
    """Fill the stand-ins, run each configuration, check exactly-once and the bound, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=16, help="Q_WORKERS of each qcluster")
    parser.add_argument("--failures", type=int, default=1000)
    parser.add_argument("--clusters", type=int, nargs="+", default=[1, 3], help="cluster counts to run, in order")
    parser.add_argument("--llm-bound", type=int, default=None,
                        help="LLM_MAX_CONCURRENCY across all clusters (default: --workers, one cluster's worth)")
    parser.add_argument("--unbounded", action="store_true",
                        help="also run the largest cluster count with LLM_MAX_CONCURRENCY=0 (no global bound)")
    args = parser.parse_args()
    bound = args.llm_bound if args.llm_bound is not None else args.workers
    configurations = [(count, bound) for count in args.clusters]
    if args.unbounded:
        configurations.append((max(args.clusters), 0))

    prefect, airbyte = PrefectStandin().start(), AirbyteStandin().start()
    llm = LlmStandin(latency=LLM_LATENCY_SECONDS).start()
    results = []
    try:
        for clusters, llm_bound in configurations:
            results.append(run_burst(clusters=clusters, workers=args.workers, failures=args.failures,
                                     llm_bound=llm_bound, prefect=prefect, airbyte=airbyte, llm=llm))
    finally:
        for server in (llm, airbyte, prefect):
            server.stop()

    print(f"\nqclusters of Q_WORKERS={args.workers} each (queue_limit = workers), separate processes on one "
          f"PostgreSQL; LLM stand-in {LLM_LATENCY_SECONDS:.0f} s per call; gunicorn 2 workers x 8 threads; burst "
          f"posted by 16 clients (httpx threads); everything on this 2-core machine")
    rows, failed = [], False
    for run in results:
        exactly_once = (run.summary_rows == run.distinct_runs == run.llm_calls == run.notifications == args.failures)
        within = run.llm_bound == 0 or run.peak <= run.llm_bound
        failed |= not exactly_once or not within
        rows.append([
            run.clusters, run.clusters * args.workers, run.llm_bound or "none", args.failures,
            f"{run.posted_seconds:.1f}", run.ok, f"{run.drain_seconds:.1f} (observed {run.observed_seconds:.0f})",
            f"{args.failures / run.drain_seconds:.1f}", f"{run.summary_rows} ({run.distinct_runs})", run.llm_calls,
            run.peak, "yes" if exactly_once else "NO",
        ])
    print(table(
        ["clusters", "workers in all", "LLM_MAX_CONCURRENCY", "failures", "burst posted in (s)", "2xx",
         "drain: first post -> last summary stored (s)", "summaries/s", "summary rows (distinct runs)",
         "LLM calls", "peak concurrent LLM calls", "exactly once"],
        rows,
    ))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
