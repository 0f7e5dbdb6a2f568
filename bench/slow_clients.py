"""The webhook's latency with 50 slow clients connected against none, in one run (issue 11, item 2).

Run from the repository root: ``python -m bench.slow_clients [--requests 300] [--slow 50] [--direct 5]``.
It drops, creates and migrates the PostgreSQL database `ddpui_bench`, starts the production web command
(`scripts/serve.sh`: nginx buffering in front of gunicorn, two sync workers as in the harness), and posts
genuine notifications one at a time: first alone, then while `--slow` clients dribble their headers or
bodies one byte every 0.5 s (harness/slow_clients.py). For contrast, `--direct` notifications are posted to
gunicorn facing the slow clients itself (the way the app was served before), each given up after 10 s.
"""

import argparse
import os
import time
import uuid

import httpx

import bench.bench_django  # noqa: F401  (first: Django on the bench database)
from bench.load import LoadResult, table
from bench.processes import WEBHOOK_KEY, bench_env, fresh_database, run_directory, start_gunicorn
from harness.app import WEBHOOK_PATH, start_gunicorn_alone
from harness.processes import ProcessStack
from harness.slow_clients import SlowClients

HEADERS = {"X-Notification-Key": WEBHOOK_KEY, "Content-Type": "application/json"}
LOAD_BEFORE = " ".join(f"{load:.1f}" for load in os.getloadavg())
DIRECT_TIMEOUT_SECONDS = 10
SLOW_INTERVAL_SECONDS = 0.5


def post_sequentially(base_url: str, count: int, *, timeout: float = 30) -> LoadResult:
    """`count` genuine notifications, one after the other, each on a fresh connection (as Prefect posts)."""
    result = LoadResult()
    began = time.monotonic()
    for _ in range(count):
        body = f'{{"body": "Flow run bench with id {uuid.uuid4()} entered state Failed"}}'.encode()
        start = time.monotonic()
        try:
            status = httpx.post(base_url + WEBHOOK_PATH, content=body, headers=HEADERS, timeout=timeout).status_code
        except httpx.HTTPError:
            status = None
        result.add(time.monotonic() - start, status)
    result.seconds = time.monotonic() - began
    return result


def row(label: str, result: LoadResult) -> list[str]:
    """One table row."""
    return [label, len(result.latencies), result.ok, result.errors, f"{result.percentile_ms(0.5):.1f}",
            f"{result.percentile_ms(0.99):.1f}", f"{result.percentile_ms(1):.1f}"]


def main() -> None:
    """Start the app, measure without and with slow clients (and the old way), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--direct", type=int, default=5, help="notifications to gunicorn alone (0: skip)")
    args = parser.parse_args()

    run_dir = run_directory("slow-clients")
    env = bench_env(run_dir)
    fresh_database(env, run_dir)
    stack = ProcessStack(run_dir)
    rows = []
    try:
        _, base_url = start_gunicorn(stack, env, workers=2, threads=1)
        post_sequentially(base_url, 20)  # warm-up
        rows.append(row("nginx + gunicorn, no slow client", post_sequentially(base_url, args.requests)))
        with SlowClients(base_url, args.slow, interval=SLOW_INTERVAL_SECONDS) as slow:
            time.sleep(2)
            with_slow = post_sequentially(base_url, args.requests)
            connected = slow.still_connected()
        rows.append(row(f"nginx + gunicorn, {args.slow} slow clients connected ({connected} still)", with_slow))
        if args.direct:
            direct_url = start_gunicorn_alone(stack, {**env, "LOG_LEVEL": "WARNING"})
            post_sequentially(direct_url, 5)
            with SlowClients(direct_url, args.slow, interval=SLOW_INTERVAL_SECONDS):
                time.sleep(2)
                direct = post_sequentially(direct_url, args.direct, timeout=DIRECT_TIMEOUT_SECONDS)
            rows.append(row(f"gunicorn alone (before), {args.slow} slow clients, {DIRECT_TIMEOUT_SECONDS} s "
                            "client timeout", direct))
    finally:
        stack.stop_all()
    print(f"\nwebhook POSTs one at a time; gunicorn 2 sync workers; slow clients send one byte every "
          f"{SLOW_INTERVAL_SECONDS} s (half headers, half a declared body); cpus {os.cpu_count()}; load average "
          f"before: {LOAD_BEFORE}; logs in {run_dir}")
    print(table(["served by", "requests", "2xx", "no answer", "p50 (ms)", "p99 (ms)", "max (ms)"], rows))


if __name__ == "__main__":
    main()
