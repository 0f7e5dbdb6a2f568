"""Run one stand-in in the foreground: `python -m standins airbyte|llm|prefect --port N`.

`--seed` fills the store with one failed run (prefect) or one failed job (airbyte) so a
manual test or the demo has something to read; `--log-file` supplies its log lines.
"""

import argparse
import datetime
import sys
import threading
from pathlib import Path

from standins.airbyte_api import AirbyteStandin, failure
from standins.llm_api import LlmStandin
from standins.prefect_api import PrefectStandin
from standins.server import StandinServer

DEFAULT_PORTS = {"prefect": 4200, "airbyte": 8000, "llm": 8090}
DEMO_CONNECTION_ID = "00000000-0000-4000-8000-00000000c0de"
DEMO_LOG = [
    "Running with dbt=1.8.0",
    "Found 12 models, 4 tests",
    "Database Error in model stg_households (models/staging/stg_households.sql)",
    '  column "hh_size" does not exist',
    "Done. PASS=11 WARN=0 ERROR=1 SKIP=0 TOTAL=12",
]


def seed_prefect(standin: PrefectStandin, lines: list[str]) -> str:
    """A failed Dalgo pipeline run whose dbt-run task failed with `lines` as its logs."""
    flow_run = standin.add_flow_run(
        name="demo-pipeline-run",
        deployment_id="00000000-0000-4000-8000-0000000000d1",
        message="Flow run encountered an exception: dbt run failed",
        parameters={
            "config": {
                "org_slug": "demo-org",
                "tasks": [
                    {"slug": "airbyte-sync", "seq": 1, "type": "Airbyte Connection", "connection_id": DEMO_CONNECTION_ID},
                    {"slug": "dbt-run", "seq": 2, "type": "dbt Core Operation"},
                ],
            }
        },
    )
    standin.add_task_run(flow_run["id"], name="airbyte-sync")
    task = standin.add_task_run(flow_run["id"], name="dbtjob-dbt-run", state_type="FAILED", message="dbt run failed")
    standin.add_logs(lines, flow_run_id=flow_run["id"], task_run_id=task["id"])
    standin.add_log("Finished in state Failed('dbt run failed')", flow_run_id=flow_run["id"], level=40)
    return f"flow run {flow_run['id']} (failed task run {task['id']})"


def seed_airbyte(standin: AirbyteStandin, lines: list[str]) -> str:
    """A failed sync job of the demo connection with `lines` as its attempt's logs."""
    job = standin.add_job(
        DEMO_CONNECTION_ID,
        "failed",
        datetime.datetime.now(datetime.timezone.utc),
        attempts=[{"failures": [failure(lines[-1], origin="destination")], "log_lines": lines}],
    )
    return f"job {job['job']['id']} of connection {DEMO_CONNECTION_ID}"


def build(kind: str, port: int, latency: float) -> StandinServer:
    """The stand-in of that kind, not yet started."""
    if kind == "prefect":
        return PrefectStandin(port, latency=latency)
    if kind == "airbyte":
        return AirbyteStandin(port, latency=latency)
    return LlmStandin(port, latency=latency)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, start the stand-in and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m standins", description=__doc__)
    parser.add_argument("kind", choices=sorted(DEFAULT_PORTS))
    parser.add_argument("--port", type=int, help="default: prefect 4200, airbyte 8000, llm 8090; 0 picks a free one")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--seed", action="store_true", help="store one failed run/job to read back")
    parser.add_argument("--log-file", type=Path, help="log lines for --seed (default: a short dbt failure)")
    args = parser.parse_args(argv)

    port = DEFAULT_PORTS[args.kind] if args.port is None else args.port
    standin = build(args.kind, port, args.latency)
    standin.start()
    lines = args.log_file.read_text().splitlines() if args.log_file else DEMO_LOG
    print(f"{args.kind} stand-in listening on {standin.url}", flush=True)
    if args.seed and args.kind == "prefect":
        print("seeded " + seed_prefect(standin, lines), flush=True)
    elif args.seed and args.kind == "airbyte":
        print("seeded " + seed_airbyte(standin, lines), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
