"""Reading a stored summary through each way of authenticating, side by side in one run: Dalgo's webapp_v2
(`access_token` cookie), Dalgo's webapp (bearer JWT), and a machine client (`ddp_` API token).

Run from the repository root: ``python -m bench.read_auth``. It drops, creates and migrates the bench database
(BENCH_DATABASE_URL, else `ddpui_bench`), stores one ready summary, starts gunicorn (2 gthread workers x 8
threads), logs in through /api/v2/login/ and /api/login/, and then reads the summary as the frontends poll it,
GET /api/tasks/stp/{task_id} with `x-dalgo-org`, at a fixed rate (open loop, httpx in threads) for each way in
turn, in rounds that alternate the order (so a slow moment of the machine does not land on one way only).
Each read costs the throttle check, the auth lookup(s) and the summary read: printed per way as p50/p99.
"""

import argparse
import os
import uuid

import httpx

from bench import bench_django  # noqa: F401  (before any model import: Django set up on the bench database)
from bench.load import LoadResult, closed_loop, open_loop, table
from bench.processes import bench_env, fresh_database, run_directory, start_gunicorn
from ddpui.core.auth.orgs import create_org_with_admin
from ddpui.models import LlmSession, SummaryStatus
from harness.processes import ProcessStack

LOAD_BEFORE = " ".join(f"{load:.1f}" for load in os.getloadavg())
EMAIL, PASSWORD = "reader@bench.test", "bench-password-5b1e"
ORG_SLUG = "bench-ngo"
RESULT = [{"prompt": "Summarize the primary error that occurred in this run", "response": "dbt-run failed."},
          {"prompt": "What steps can I take to solve the error you identified?", "response": "1. Fix the model."}]


def stored_session() -> LlmSession:
    """The org and its user (super-admin, with a password) and one ready summary; returns the summary."""
    org, orguser, _ = create_org_with_admin(name="Bench NGO", email=EMAIL, slug=ORG_SLUG, password=PASSWORD)
    return LlmSession.objects.create(
        org=org, orguser=orguser, flow_run_id=str(uuid.uuid4()), step_key=f"task:{uuid.uuid4()}",
        status=SummaryStatus.READY, title="dbt-run failed", summary="dbt-run failed.", response=RESULT,
    )


def credentials(base_url: str, api_token: str) -> dict[str, dict[str, str]]:
    """The request headers of each way in, after logging in as each frontend does."""
    body = {"username": EMAIL, "password": PASSWORD}
    v2 = httpx.post(f"{base_url}/api/v2/login/", json=body, timeout=10)
    v1 = httpx.post(f"{base_url}/api/login/", json=body, timeout=10)
    v2.raise_for_status()
    v1.raise_for_status()
    return {
        "cookie (webapp_v2)": {"Cookie": f"access_token={v2.cookies['access_token']}", "x-dalgo-org": ORG_SLUG},
        "bearer JWT (webapp)": {"Authorization": f"Bearer {v1.json()['token']}", "x-dalgo-org": ORG_SLUG},
        "ddp_ API token": {"Authorization": f"Bearer {api_token}"},
    }


def merged(results: list[LoadResult]) -> LoadResult:
    """One result of several rounds."""
    total = LoadResult()
    for result in results:
        total.latencies += result.latencies
        total.errors += result.errors
        total.seconds += result.seconds
        for status, count in result.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    return total


def main() -> None:
    """Set up, measure each way in alternating rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--round-seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    run_dir = run_directory("read-auth")
    stack = ProcessStack(run_dir)
    try:
        env = bench_env(run_dir)
        fresh_database(env, run_dir)
        session = stored_session()
        api_token = create_org_with_admin(name="Bench NGO", email=EMAIL, slug=ORG_SLUG)[2]
        _, base_url = start_gunicorn(stack, env, workers=args.workers, threads=args.threads)
        ways = credentials(base_url, api_token)
        path = f"/api/tasks/stp/{session.public_id}"
        results: dict[str, list[LoadResult]] = {name: [] for name in ways}
        for round_index in range(args.rounds):
            order = list(ways) if round_index % 2 == 0 else list(reversed(ways))
            for name in order:
                headers = ways[name]

                def read(client: httpx.Client, index: int, headers: dict = headers) -> httpx.Response:
                    """One poll of the stored summary."""
                    return client.get(path, headers=headers)

                if round_index == 0:
                    closed_loop(base_url, read, total=200, concurrency=8)  # warm-up
                results[name].append(open_loop(base_url, read, rate=args.rate,
                                               total=int(args.rate * args.round_seconds)))
    finally:
        stack.stop_all()
    print(f"\ngunicorn: {args.workers} workers x {args.threads} threads; GET /api/tasks/stp/{{task_id}} of a stored "
          f"summary at {args.rate:.0f} req/s (open loop, httpx in threads, loopback), {args.rounds} rounds of "
          f"{args.round_seconds:.0f} s per way, alternating order; load average before: {LOAD_BEFORE}; "
          f"logs in {run_dir}")
    rows = []
    for name, rounds in results.items():
        result = merged(rounds)
        rows.append([name, len(result.latencies), f"{len(result.latencies) - result.ok} / {result.errors}",
                     f"{result.percentile_ms(0.5):.1f}", f"{result.percentile_ms(0.99):.1f}",
                     f"{result.percentile_ms(1):.1f}"])
    print(table(["auth", "requests", "non-2xx / errors", "p50 (ms)", "p99 (ms)", "max (ms)"], rows))


if __name__ == "__main__":
    main()
