"""Webhook acknowledgement under gunicorn: the most notifications per second it sustains (closed loop,
concurrency 16), and p50/p99 latency at a fixed 100 requests/s (open loop). Every acknowledged notification
must be recorded: the Notification rows are counted afterwards.

Run from the repository root: ``python bench/webhook_load.py [--workers 2 --threads 8] [--total 6000]``.
It drops, creates and migrates the PostgreSQL database `ddpui_bench` (BENCH_DATABASE_URL to change it),
starts gunicorn on 127.0.0.1 with the chosen worker configuration, and no qcluster (the handler's work is
not part of the acknowledgement; queued tasks wait in the queue table). The load generator runs in this
process on the same machine (httpx, threads): its CPU is taken from the server's.
"""

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import closed_loop, open_loop, table  # noqa: E402
from bench.processes import (  # noqa: E402
    WEBHOOK_KEY, bench_env, fresh_database, run_directory, start_gunicorn, use_bench_database,
)
from harness.processes import ProcessStack  # noqa: E402

use_bench_database()
import django  # noqa: E402

django.setup()
from ddpui.models import Notification  # noqa: E402

WEBHOOK_PATH = "/webhooks/v1/notification/"
HEADERS = {"X-Notification-Key": WEBHOOK_KEY, "Content-Type": "application/json"}
RUN_ID_NAMESPACE = uuid.UUID("6f1d2c3b-0000-4000-8000-00000000be4c")


def notification_body(index: int) -> bytes:
    """Dalgo's text body for a distinct failed run (so each one is recorded, not deduplicated)."""
    run_id = uuid.uuid5(RUN_ID_NAMESPACE, str(index))
    return json.dumps({"body": f"Flow run bench-run-{index} with id {run_id} entered state Failed"}).encode()


def post_notification(client, index: int):
    """One webhook delivery."""
    return client.post(WEBHOOK_PATH, content=notification_body(index), headers=HEADERS)


def main() -> None:
    """Start the app, warm it up, run the closed and the open loop, count rows, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--total", type=int, default=6000, help="requests in the closed loop")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--open-seconds", type=float, default=30)
    args = parser.parse_args()

    run_dir = run_directory("webhook")
    env = bench_env(run_dir)
    fresh_database(env, run_dir)
    stack = ProcessStack(run_dir)
    try:
        _, base_url = start_gunicorn(stack, env, workers=args.workers, threads=args.threads)
        warm = closed_loop(base_url, post_notification, total=200, concurrency=args.concurrency)
        index = 200
        closed = closed_loop(base_url, lambda client, i: post_notification(client, index + i),
                             total=args.total, concurrency=args.concurrency)
        index += args.total
        open_total = int(args.rate * args.open_seconds)
        opened = open_loop(base_url, post_notification, rate=args.rate, total=open_total, first_index=index)
        index += open_total
    finally:
        stack.stop_all()
    acknowledged = warm.ok + closed.ok + opened.ok
    recorded = Notification.objects.count()
    print(f"\ngunicorn: {args.workers} workers x {args.threads} threads ({'gthread' if args.threads > 1 else 'sync'}), "
          f"cpus: {os.cpu_count()}, load generator: httpx in threads, same machine; logs in {run_dir}")
    print(table(
        ["measure", "requests", "non-2xx / errors", "rate (req/s)", "p50 (ms)", "p99 (ms)", "max (ms)"],
        [
            [f"closed loop, concurrency {args.concurrency}", len(closed.latencies),
             f"{len(closed.latencies) - closed.ok} / {closed.errors}", f"{closed.rate:.0f}",
             f"{closed.percentile_ms(0.5):.1f}", f"{closed.percentile_ms(0.99):.1f}", f"{closed.percentile_ms(1):.1f}"],
            [f"open loop, {args.rate:.0f} req/s", len(opened.latencies),
             f"{len(opened.latencies) - opened.ok} / {opened.errors}", f"{opened.rate:.0f}",
             f"{opened.percentile_ms(0.5):.1f}", f"{opened.percentile_ms(0.99):.1f}", f"{opened.percentile_ms(1):.1f}"],
        ],
    ))
    print(f"\nacknowledged 2xx: {acknowledged}; Notification rows: {recorded} "
          f"({'every one recorded' if recorded == acknowledged else 'MISMATCH'})")
    if recorded != acknowledged:
        sys.exit(1)


if __name__ == "__main__":
    main()
