"""Pipeline overhead per failure, webhook to stored summary, with an LLM stand-in that answers at once:
median and p95 per stage.

Run from the repository root: ``python -m bench.pipeline_overhead [--failures 50]``. It drops, creates and
migrates `ddpui_bench`, starts the Prefect, Airbyte and LLM (zero latency) stand-ins in this process, gunicorn
(2 gthread workers x 8 threads) and a real qcluster (Q_WORKERS=2, poll 0.05 s). Failures are sent one at a
time (each waits for the previous summary), so the figures are per-failure overhead, not queueing behind
others. Django-Q2 stamps Task.started when the task is ENQUEUED (django_q/tasks.py), so a task's
"started -> stopped" includes its pickup wait. Stages come from the harness's timeline:
Notification.received_at, the handler's and the summary's django_q Task started/stopped, LlmSession.timings
and LlmSession.updated_at. Log settling runs with
LOG_SETTLE_INTERVAL_SECONDS=0.1 and LOG_SETTLE_MAX_SECONDS=1 (production: LOG_QUIET_SECONDS 2, interval 0.5 s, max 8 s: logs reach
Prefect up to ~1.2 s late).
"""

import argparse
import statistics
from types import SimpleNamespace

import httpx  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_q.models import Task  # noqa: E402

from bench import bench_django  # noqa: F401  (before any model import: Django set up on the bench database)
from bench.failures import add_failed_run, bench_org, deployment, failure_body  # noqa: E402
from bench.load import table  # noqa: E402
from bench.processes import (  # noqa: E402
    WEBHOOK_KEY,
    bench_env,
    fresh_database,
    run_directory,
    start_gunicorn,
)
from ddpui.models import Notification  # noqa: E402
from harness.app import start_cluster  # noqa: E402
from harness.processes import ProcessStack  # noqa: E402
from harness.timeline import ms_between, timeline_of, wait_for_summary  # noqa: E402
from standins.airbyte_api import AirbyteStandin  # noqa: E402
from standins.llm_api import LlmStandin  # noqa: E402
from standins.prefect_api import PrefectStandin  # noqa: E402


def handler_ms(flow_run_id: str) -> int | None:
    """The notification handler's django_q Task started (enqueued) -> stopped: pickup plus run."""
    notification = Notification.objects.filter(flow_run_id=flow_run_id).first()
    task = Task.objects.filter(name=f"handle-notification-{notification.id}").first() if notification else None
    return ms_between(task.started, task.stopped) if task else None


def p95(values: list[int]) -> int:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    """Send failures one by one, split each one's path into stages, print median and p95 per stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=50)
    args = parser.parse_args()

    run_dir = run_directory("overhead")
    prefect, airbyte, llm = PrefectStandin().start(), AirbyteStandin().start(), LlmStandin(latency=0).start()
    stack = ProcessStack(run_dir)
    timelines = []
    try:
        env = bench_env(run_dir, prefect_api_url=prefect.api_url, airbyte_port=airbyte.port,
                        openai_base_url=llm.base_url, Q_WORKERS="2", Q_POLL_SECONDS="0.05")
        fresh_database(env, run_dir)
        org, _ = bench_org()
        deployment_id, parameters = deployment(org)
        _, base_url = start_gunicorn(stack, env, workers=2, threads=8)
        start_cluster(stack, env)
        with httpx.Client(base_url=base_url, headers={"X-Notification-Key": WEBHOOK_KEY}, timeout=10) as client:
            for index in range(args.failures + 1):
                run = add_failed_run(prefect, deployment_id, parameters, index)
                sent = timezone.now()
                client.post("/webhooks/v1/notification/", json=failure_body(run)).raise_for_status()
                session = wait_for_summary(run["id"], timeout=60)
                if index == 0:
                    continue  # warm-up: first imports and connections in every process
                # The "flow run end" of the timeline is the moment we posted: its first step is our intake.
                flow_run = SimpleNamespace(id=run["id"], end_time=sent, state=SimpleNamespace(name="Failed"))
                steps = timeline_of(flow_run, session, "default").steps
                steps["handler_run"] = handler_ms(run["id"])
                timelines.append(steps)
    finally:
        stack.stop_all()
        for server in (llm, airbyte, prefect):
            server.stop()
    labels = {
        "prefect_delivery": "webhook POST -> Notification recorded (received_at)",
        "queueing": "recorded -> handler task enqueued (Task.started)",
        "handler_run": "handler enqueued -> stopped (pickup + run)",
        "handler_until_summary_starts": "handler enqueued -> summary task enqueued",
        "locate": "summary: locate",
        "wait_for_logs": "summary: wait_for_logs (settle, 0.1 s interval)",
        "evidence": "summary: evidence",
        "condense": "summary: condense",
        "summarize": "summary: summarize (LLM stand-in, 0 ms)",
        "store": "summary: store",
        "total_end_to_stored": "total: webhook POST -> summary stored (updated_at)",
    }
    rows = []
    for key, label in labels.items():
        values = [steps[key] for steps in timelines if steps.get(key) is not None]
        rows.append([label, len(values), f"{statistics.median(values):.0f}" if values else "-",
                     p95(values) if values else "-"])
    print(f"\n{len(timelines)} failures, one at a time (after one warm-up); gunicorn 2 x 8 gthread; qcluster "
          f"Q_WORKERS=2, Q_POLL_SECONDS=0.05; stand-ins in the bench process; logs in {run_dir}")
    print(table(["stage", "n", "median (ms)", "p95 (ms)"], rows))


if __name__ == "__main__":
    main()
