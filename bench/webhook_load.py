"""Webhook acknowledgement under gunicorn: the most notifications per second it sustains (closed loop,
concurrency 16), and p50/p99 latency at a fixed 100 requests/s (open loop). Every acknowledged notification
must be recorded: the Notification rows are counted afterwards.

Run from the repository root: ``python -m bench.webhook_load [--workers 2 --threads 8] [--total 6000]``.
It drops, creates and migrates the PostgreSQL database `ddpui_bench` (BENCH_DATABASE_URL to change it),
starts gunicorn on 127.0.0.1 with the chosen worker configuration, and no qcluster (the handler's work is
not part of the acknowledgement; queued tasks wait in the queue table). Load generators share the machine
(their CPU is taken from the server's): the closed loop uses `wrk` (C, 2 threads, 16 connections) when it is
installed (`apt-get install wrk`), else httpx in 16 threads; the open loop uses httpx in threads.
"""

import argparse
import json
import os
import random
import shutil
import sys
import uuid
from pathlib import Path

from bench import bench_django  # noqa: F401  (before any model import: Django set up on the bench database)
from bench.load import closed_loop, open_loop, run_wrk, table  # noqa: E402
from bench.processes import (  # noqa: E402
    WEBHOOK_KEY,
    bench_env,
    fresh_database,
    run_directory,
    start_gunicorn,
)
from ddpui.models import Notification  # noqa: E402
from harness.processes import ProcessStack  # noqa: E402

WEBHOOK_PATH = "/webhooks/v1/notification/"
LOAD_BEFORE = " ".join(f"{load:.1f}" for load in os.getloadavg())
HEADERS = {"X-Notification-Key": WEBHOOK_KEY, "Content-Type": "application/json"}
RUN_ID_NAMESPACE = uuid.UUID("6f1d2c3b-0000-4000-8000-00000000be4c")


def notification_body(index: int) -> bytes:
    """Dalgo's text body for a distinct failed run (so each one is recorded, not deduplicated)."""
    run_id = uuid.uuid5(RUN_ID_NAMESPACE, str(index))
    return json.dumps({"body": f"Flow run bench-run-{index} with id {run_id} entered state Failed"}).encode()


def post_notification(client, index: int):
    """One webhook delivery."""
    return client.post(WEBHOOK_PATH, content=notification_body(index), headers=HEADERS)


WRK_SCRIPT = Path(__file__).with_name("webhook_wrk.lua")


def main() -> None:
    """Start the app, warm it up, run the closed and the open loop, count rows, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--closed-seconds", type=int, default=20, help="wrk's duration")
    parser.add_argument("--total", type=int, default=5000, help="closed-loop requests when httpx generates them")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--open-seconds", type=float, default=30)
    parser.add_argument("--generator", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    args = parser.parse_args()

    run_dir = run_directory("webhook")
    env = bench_env(run_dir)
    fresh_database(env, run_dir)
    stack = ProcessStack(run_dir)
    try:
        _, base_url = start_gunicorn(stack, env, workers=args.workers, threads=args.threads)
        warm = closed_loop(base_url, post_notification, total=200, concurrency=args.concurrency)
        index = 200
        if args.generator == "wrk":
            closed = run_wrk(base_url, concurrency=args.concurrency, seconds=args.closed_seconds,
                             script=WRK_SCRIPT, script_args=[WEBHOOK_KEY, str(random.randrange(65536))])
        else:
            result = closed_loop(base_url, lambda client, i: post_notification(client, index + i),
                                 total=args.total, concurrency=args.concurrency)
            index += args.total
            closed = {"requests": len(result.latencies), "non_2xx": len(result.latencies) - result.ok,
                      "rate": result.rate, "p50": f"{result.percentile_ms(0.5):.1f}ms",
                      "p99": f"{result.percentile_ms(0.99):.1f}ms"}
        open_total = int(args.rate * args.open_seconds)
        opened = open_loop(base_url, post_notification, rate=args.rate, total=open_total, first_index=index)
    finally:
        stack.stop_all()
    acknowledged = warm.ok + closed["requests"] - closed["non_2xx"] + opened.ok
    recorded = Notification.objects.count()
    in_flight_allowance = args.concurrency if args.generator == "wrk" else 0
    print(f"\ngunicorn: {args.workers} workers x {args.threads} threads ({'gthread' if args.threads > 1 else 'sync'}); "
          f"cpus: {os.cpu_count()}; load average before the run: {LOAD_BEFORE}; closed loop: {args.generator}; "
          f"open loop: httpx in threads; all on this machine, loopback; logs in {run_dir}")
    print(table(
        ["measure", "requests", "non-2xx", "rate (req/s)", "p50", "p99", "max"],
        [
            [f"closed loop, concurrency {args.concurrency} ({args.generator})", closed["requests"], closed["non_2xx"],
             f"{closed['rate']:.0f}", closed["p50"], closed["p99"], "-"],
            [f"open loop, {args.rate:.0f} req/s (httpx)", len(opened.latencies), len(opened.latencies) - opened.ok,
             f"{opened.rate:.0f}", f"{opened.percentile_ms(0.5):.1f}ms", f"{opened.percentile_ms(0.99):.1f}ms",
             f"{opened.percentile_ms(1):.1f}ms"],
        ],
    ))
    every_one = acknowledged <= recorded <= acknowledged + in_flight_allowance
    print(f"\nacknowledged 2xx: {acknowledged}; Notification rows: {recorded} "
          f"({'every acknowledged one recorded' if every_one else 'MISMATCH'}"
          f"{'; wrk does not count the <= %d in flight when it stops' % in_flight_allowance if in_flight_allowance else ''})")
    if not every_one:
        sys.exit(1)


if __name__ == "__main__":
    main()
