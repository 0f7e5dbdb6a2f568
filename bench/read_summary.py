"""Reading a stored summary versus generating it at read time (as upstream Dalgo does), side by side in one run.

Run from the repository root: ``python -m bench.read_summary``. It drops, creates and migrates `ddpui_bench`,
starts the Prefect, Airbyte and LLM stand-ins in this process (the LLM answers after a fixed 3 s), gunicorn
(2 gthread workers x 8 threads) and a real qcluster, and stores the summary of one failed run the normal way
(webhook -> handler -> pipeline). Then, against the same run:

1. stored: GET /api/v1/flow_runs/{id}/summary at a fixed 100 requests/s (open loop, httpx in threads), then
   as many as 16 connections get answered (closed loop, `wrk`: apt-get install wrk);
2. at read time: GET /api/prefect/v1/flow_runs/{id}/logsummary?regenerate=1 and poll /api/tasks/stp/{task_id}
   (every 0.1 s; Dalgo's UI polls every 3 s, which would only add to it) until it is completed, sequentially.
"""

import argparse
import os
import statistics
import time

import httpx  # noqa: E402

from bench import bench_django  # noqa: F401  (before any model import: Django set up on the bench database)
from bench.failures import add_failed_run, bench_org, deployment, failure_body  # noqa: E402
from bench.load import closed_loop, open_loop, run_wrk, table  # noqa: E402
from bench.processes import (  # noqa: E402
    WEBHOOK_KEY,
    bench_env,
    fresh_database,
    run_directory,
    start_gunicorn,
)
from ddpui.models import LlmSession, SummaryStatus  # noqa: E402
from harness.app import start_cluster  # noqa: E402
from harness.processes import HarnessError, ProcessStack, wait_until  # noqa: E402
from standins.airbyte_api import AirbyteStandin  # noqa: E402
from standins.llm_api import LlmStandin  # noqa: E402
from standins.prefect_api import PrefectStandin  # noqa: E402

LLM_LATENCY_SECONDS = 3.0
LOAD_BEFORE = " ".join(f"{load:.1f}" for load in os.getloadavg())
POLL_SECONDS = 0.1
GENERATE_TIMEOUT_SECONDS = 60


def stored_summary(flow_run_id: str) -> LlmSession | None:
    """The run's ready failure summary, if stored."""
    return LlmSession.objects.filter(flow_run_id=flow_run_id, status=SummaryStatus.READY).first()


def generate_at_read_time(client: httpx.Client, flow_run_id: str) -> float:
    """Seconds from asking for a fresh summary to reading it completed, as Dalgo's UI does it."""
    started = time.perf_counter()
    task_id = client.get(f"/api/prefect/v1/flow_runs/{flow_run_id}/logsummary", params={"regenerate": 1}).json()["task_id"]

    def completed() -> bool:
        progress = client.get(f"/api/tasks/stp/{task_id}").json()["progress"]
        return bool(progress) and progress[-1]["status"] == "completed"

    try:
        wait_until(completed, timeout=GENERATE_TIMEOUT_SECONDS, what="the regenerated summary", interval=POLL_SECONDS)
    except HarnessError:
        raise HarnessError(f"no regenerated summary within {GENERATE_TIMEOUT_SECONDS} s") from None
    return time.perf_counter() - started


def main() -> None:
    """Set up, store one summary, measure stored reads and read-time generation, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--open-seconds", type=float, default=30)
    parser.add_argument("--closed-seconds", type=int, default=20, help="wrk's duration")
    parser.add_argument("--generations", type=int, default=5)
    args = parser.parse_args()

    run_dir = run_directory("read")
    prefect, airbyte = PrefectStandin().start(), AirbyteStandin().start()
    llm = LlmStandin(latency=LLM_LATENCY_SECONDS).start()
    stack = ProcessStack(run_dir)
    try:
        # The read-time runs regenerate a summary just made, over and over: the limits that keep users from
        # spending money that way are lifted for this measurement only.
        env = bench_env(run_dir, prefect_api_url=prefect.api_url, airbyte_port=airbyte.port, openai_base_url=llm.base_url,
                        SUMMARY_REGENERATE_MIN_SECONDS="0", SUMMARY_REGENERATE_DAILY_LIMIT="1000")
        fresh_database(env, run_dir)
        org, token = bench_org()
        deployment_id, parameters = deployment(org)
        run = add_failed_run(prefect, deployment_id, parameters, 0)
        _, base_url = start_gunicorn(stack, env, workers=args.workers, threads=args.threads)
        cluster = start_cluster(stack, env)
        httpx.post(f"{base_url}/webhooks/v1/notification/", json=failure_body(run),
                   headers={"X-Notification-Key": WEBHOOK_KEY}, timeout=10).raise_for_status()
        wait_until(lambda: stored_summary(run["id"]), timeout=60, what="the stored summary", watch=[cluster])
        auth = {"Authorization": f"Bearer {token}"}
        summary_path = f"/api/v1/flow_runs/{run['id']}/summary"

        def read(client: httpx.Client, index: int) -> httpx.Response:
            """One read of the stored summary."""
            return client.get(summary_path, headers=auth)

        closed_loop(base_url, read, total=300, concurrency=16)  # warm-up
        opened = open_loop(base_url, read, rate=args.rate, total=int(args.rate * args.open_seconds))
        closed = run_wrk(base_url + summary_path, concurrency=16, seconds=args.closed_seconds, headers=auth)
        calls_before = llm.request_count
        with httpx.Client(base_url=base_url, headers=auth, timeout=10) as client:
            generated = [generate_at_read_time(client, run["id"]) for _ in range(args.generations)]
        llm_calls = llm.request_count - calls_before
    finally:
        stack.stop_all()
        for server in (llm, airbyte, prefect):
            server.stop()
    generated_ms = statistics.median(generated) * 1000
    print(f"\ngunicorn: {args.workers} workers x {args.threads} threads ({'gthread' if args.threads > 1 else 'sync'}); qcluster Q_WORKERS=2; "
          f"LLM stand-in latency {LLM_LATENCY_SECONDS:.0f} s; open loop: httpx in threads, closed loop: wrk, "
          f"both on this machine (loopback); load average before: {LOAD_BEFORE}; "
          f"logs in {run_dir}")
    print(table(
        ["read", "requests", "non-2xx / errors", "rate (req/s)", "p50 (ms)", "p99 (ms)", "max (ms)"],
        [
            [f"stored, open loop {args.rate:.0f} req/s", len(opened.latencies),
             f"{len(opened.latencies) - opened.ok} / {opened.errors}", f"{opened.rate:.0f}",
             f"{opened.percentile_ms(0.5):.1f}", f"{opened.percentile_ms(0.99):.1f}", f"{opened.percentile_ms(1):.1f}"],
            ["stored, closed loop, concurrency 16 (wrk)", closed["requests"], f"{closed['non_2xx']} / 0",
             f"{closed['rate']:.0f}", closed["p50"], closed["p99"], "-"],
            ["generated at read time (regenerate=1 + poll), sequential", len(generated), "0 / 0",
             f"{len(generated) / sum(generated):.2f}", f"{generated_ms:.0f}", "-", f"{max(generated) * 1000:.0f}"],
        ],
    ))
    print(f"\nLLM calls during the read-time runs: {llm_calls} (one per generation)")
    print(f"ratio, median generated at read time / p50 stored read: {generated_ms / opened.percentile_ms(0.5):,.0f}x")


if __name__ == "__main__":
    main()
