"""1,000 failure notifications in one burst: every summary stored exactly once, the time to drain, and the
peak number of concurrent LLM calls (bounded by Q_WORKERS).

Run from the repository root: ``python bench/burst.py [--workers 16] [--failures 1000]``. It drops, creates
and migrates `ddpui_bench`, starts the Prefect stand-in (holding the failed runs, each with its own dbt
error so no summary is reused from another), the Airbyte stand-in and the LLM stand-in (1 s per call) in this
process, gunicorn (2 gthread workers x 8 threads) and a real qcluster with Q_WORKERS workers. The burst is
posted by 16 concurrent clients; the LLM call is I/O bound, so the worker count sets the throughput.
"""

import argparse
import sys
import time

import bench_django  # noqa: F401  (first: the repo root on sys.path, Django on the bench database)
from django.db.models import Max  # noqa: E402
from django.utils import timezone  # noqa: E402

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


def ready_count() -> int:
    """Stored (ready) failure summaries."""
    return LlmSession.objects.filter(trigger="failure", status=SummaryStatus.READY).count()


def main() -> None:
    """Fill the stand-in, start the app, post the burst, wait for the drain, check exactly-once, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=16, help="Q_WORKERS of the qcluster")
    parser.add_argument("--failures", type=int, default=1000)
    args = parser.parse_args()

    run_dir = run_directory("burst")
    prefect, airbyte = PrefectStandin().start(), AirbyteStandin().start()
    llm = LlmStandin(latency=LLM_LATENCY_SECONDS).start()
    stack = ProcessStack(run_dir)
    try:
        env = bench_env(run_dir, prefect_api_url=prefect.api_url, airbyte_port=airbyte.port,
                        openai_base_url=llm.base_url, Q_WORKERS=str(args.workers))
        fresh_database(env, run_dir)
        org, _ = bench_org()
        deployment_id, parameters = deployment(org)
        runs = [add_failed_run(prefect, deployment_id, parameters, index) for index in range(args.failures)]
        _, base_url = start_gunicorn(stack, env, workers=2, threads=8)
        cluster = start_cluster(stack, env)
        started_at, started = timezone.now(), time.monotonic()
        burst = closed_loop(base_url, lambda client, i: client.post(
            "/webhooks/v1/notification/", json=failure_body(runs[i]), headers={"X-Notification-Key": WEBHOOK_KEY}),
            total=args.failures, concurrency=16)

        def progress(elapsed: float) -> None:
            """A line every ~10 s while the queue drains."""
            if int(elapsed) % 10 == 0:
                print(f"  {elapsed:5.0f} s: {ready_count()} of {args.failures} stored, LLM peak {llm.peak_in_flight}",
                      flush=True)

        wait_until(lambda: ready_count() >= args.failures, timeout=DRAIN_TIMEOUT_SECONDS, what="the drain",
                   watch=[cluster], interval=1.0, progress=progress)
        observed_drain = time.monotonic() - started
        time.sleep(2)  # anything that would run twice would show up now
        last_stored = LlmSession.objects.aggregate(last=Max("updated_at"))["last"]
        sessions = LlmSession.objects.filter(trigger="failure")
        summary_rows, distinct_runs = sessions.count(), sessions.values("flow_run_id").distinct().count()
        llm_calls, peak = llm.request_count, llm.peak_in_flight
        notifications = Notification.objects.count()
    finally:
        stack.stop_all()
        for server in (llm, airbyte, prefect):
            server.stop()
    drain = (last_stored - started_at).total_seconds()
    print(f"\nqcluster Q_WORKERS={args.workers} (queue_limit = workers); LLM stand-in {LLM_LATENCY_SECONDS:.0f} s per call; "
          f"gunicorn 2 workers x 8 threads; burst posted by 16 clients (httpx threads) on the same machine; "
          f"logs in {run_dir}")
    print(table(
        ["failures", "burst posted in (s)", "2xx", "drain: first post -> last summary stored (s)", "summaries/s",
         "summary rows (distinct runs)", "LLM calls", "peak concurrent LLM calls"],
        [[args.failures, f"{burst.seconds:.1f}", burst.ok, f"{drain:.1f} (observed {observed_drain:.0f})",
          f"{args.failures / drain:.1f}", f"{summary_rows} ({distinct_runs})", llm_calls, f"{peak} (bound {args.workers})"]],
    ))
    exactly_once = summary_rows == distinct_runs == llm_calls == notifications == args.failures
    print(f"\nnotifications recorded: {notifications}; exactly once: {'yes' if exactly_once else 'NO'}; "
          f"peak equals the bound: {'yes' if peak == args.workers else 'NO'}")
    if not exactly_once or peak > args.workers:
        sys.exit(1)


if __name__ == "__main__":
    main()
