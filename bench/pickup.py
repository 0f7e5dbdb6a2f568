"""How long the cluster takes to pick a task up: a trivial task enqueued, one at a time, on a real qcluster.

Run from the repository root: ``python -m bench.pickup [--tasks 100] [--poll 0.2]``. It drops, creates and
migrates `ddpui_bench`, starts a qcluster with the production settings (Q_POLL_SECONDS 0.2 unless --poll) and
enqueues `math.floor` with our failure hook. Django-Q2 stamps Task.started at enqueue and Task.stopped when the
result is saved, so for a task that does nothing `stopped - started` is the pickup (poll wait, claim, fork-free
hand-over to a worker) plus saving the result.
"""

import argparse
import random
import statistics
import time

from django_q.models import Task  # noqa: E402

from bench import bench_django  # noqa: F401  (before any model import: Django set up on the bench database)
from bench.load import table  # noqa: E402
from bench.processes import bench_env, fresh_database, run_directory  # noqa: E402
from ddpui.core.queueing.enqueue import enqueue  # noqa: E402
from harness.app import start_cluster  # noqa: E402
from harness.processes import ProcessStack, wait_until  # noqa: E402


def pickup_ms(task_id: str) -> float | None:
    """Enqueue -> result saved, in ms, once the task's result exists."""
    task = Task.objects.filter(id=task_id).first()
    return (task.stopped - task.started).total_seconds() * 1000 if task else None


def main() -> None:
    """Start a cluster, enqueue trivial tasks one at a time, print the pickup figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--poll", type=float, default=0.2, help="Q_POLL_SECONDS (production default 0.2)")
    args = parser.parse_args()
    run_dir = run_directory("pickup")
    stack = ProcessStack(run_dir)
    figures: list[float] = []
    try:
        env = bench_env(run_dir, Q_POLL_SECONDS=str(args.poll))
        fresh_database(env, run_dir)
        cluster = start_cluster(stack, env)
        for index in range(args.tasks):
            task_id = enqueue("math.floor", 1.5, task_name=f"pickup-{index}")
            figures.append(wait_until(lambda: pickup_ms(task_id), timeout=10, what="a trivial task", watch=[cluster],
                                      interval=0.01))
            # A random pause: enqueues land anywhere in the poll cycle, as real notifications do (a fixed pause
            # would lock onto the cycle and measure one phase of it).
            time.sleep(random.uniform(0, 2 * args.poll))
    finally:
        stack.stop_all()
    ordered = sorted(figures)
    print(f"\nqcluster Q_WORKERS=2, Q_POLL_SECONDS={args.poll}, ORM broker on PostgreSQL; {len(figures)} tasks, "
          f"one at a time; logs in {run_dir}")
    print(table(["measure", "n", "median (ms)", "p95 (ms)", "max (ms)"], [
        ["enqueue -> result saved (trivial task)", str(len(ordered)), f"{statistics.median(ordered):.0f}",
         f"{ordered[int(0.95 * (len(ordered) - 1))]:.0f}", f"{ordered[-1]:.0f}"],
    ]))


if __name__ == "__main__":
    main()
