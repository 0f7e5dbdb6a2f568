"""Benchmark: one failure summary of a dbt step whose log has 1,000,102 lines, its error in the last lines.

Run from the repository root: ``python -m bench.huge_log`` (``--lines N``, ``--position 0-1`` where the real
failure sits, ``--code DIR`` to run the worker from another checkout, e.g. ``git archive main`` unpacked, for
a before/after: ``--before DIR`` runs that checkout's worker first on the same seeded log).

The Prefect stand-in runs in this process and holds the log (a real dbt failure, shared log 15, embedded in
generated dbt noise). The worker is a child process doing exactly what the cluster does for a failed run:
``manage.py summarize_flow_run <id>`` (locate -> evidence -> condense -> offline summary -> store) on a
database of its own. Printed: the child's wall time, CPU time and peak RSS (``wait4``; on a shared machine
the CPU time is the steadier figure), the lines the excerpt says it read, whether the labelled root-cause lines reached the excerpt and the stored evidence, and whether the
excerpt says how much was not read.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

from bench.noise import embedded_log
from harness.database import migrate, own_database_url, prepare_database
from harness.prefect_venv import REPO_ROOT
from standins.__main__ import seed_prefect
from standins.prefect_api import PrefectStandin

DATABASE_URL = own_database_url("ddpui_bench_huge_log", override_env="BENCH_HUGE_LOG_DATABASE_URL")
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ddpui.settings")
django.setup()

from ddpui.models import LlmSession, Org  # noqa: E402  (Django is set up first)

SHARED_LOGS = REPO_ROOT / "tests" / "fixtures" / "shared_logs"
REAL_LOG = "15_dbt_postgres-column-does-not-exist.log"


def real_failure() -> tuple[list[str], list[str]]:
    """The real dbt failure's lines and its labelled root-cause substrings."""
    labels = {label["file"]: label for label in json.loads((SHARED_LOGS / "labels.json").read_text())}
    return (SHARED_LOGS / REAL_LOG).read_text(encoding="utf-8").splitlines(), labels[REAL_LOG]["root_cause_lines"]


def run_worker(code: Path, flow_run_id: str, env: dict[str, str], log_path: Path) -> tuple[float, float, int, int]:
    """Run the worker's summary in a child process: (wall seconds, CPU seconds, peak RSS in bytes, exit status)."""
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        child = subprocess.Popen([sys.executable, "manage.py", "summarize_flow_run", flow_run_id, "--json"],
                                 cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, cpu, usage.ru_maxrss * 1024, child.returncode


def result_row(code: Path, lines: int, figures: tuple[float, float, int, int], root_causes: list[str],
               flow_run_id: str) -> str:
    """One table row: the worker's figures and what its stored summary holds."""
    seconds, cpu, peak, status = figures
    session = LlmSession.objects.filter(flow_run_id=flow_run_id).first()
    excerpt = session.excerpt if session else ""
    evidence = "\n".join(item.get("text", "") for item in (session.evidence or [])) if session else ""
    header = next((line for line in excerpt.splitlines() if line.startswith("Log excerpt")), "(no excerpt)")
    return (f"| {code.name} | {lines:,} | {seconds:.1f} s | {cpu:.1f} s | {peak / 2**20:,.0f} MiB "
            f"| {sum(cause in excerpt for cause in root_causes)}/{len(root_causes)} "
            f"| {sum(cause in evidence for cause in root_causes)}/{len(root_causes)} "
            f"| {'yes' if 'not read' in excerpt else 'no'} | {status} | {header} "
            f"| {session.timings if session else {}} |")


def main() -> None:
    """Seed the stand-in, run the worker once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_102)
    parser.add_argument("--position", type=float, default=1.0, help="where the real failure sits (1.0: the end)")
    parser.add_argument("--code", type=Path, default=REPO_ROOT, help="checkout the worker runs from")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to run first, same log")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="ddpui-bench-huge-log-"))
    prepare_database(DATABASE_URL, fresh=True)
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "OPENAI_API_KEY": ""}
    migrate(env, run_dir / "migrate.log")
    Org.objects.create(name="Demo org", slug="demo-org")
    real, root_causes = real_failure()
    standin = PrefectStandin().start()
    rows = []
    try:
        seeded = time.perf_counter()
        described = seed_prefect(standin, embedded_log(real, "dbt", args.lines, position=args.position))
        flow_run_id = described.split()[2]
        print(f"Seeded the Prefect stand-in with {args.lines:,} log lines in {time.perf_counter() - seeded:.0f}s "
              f"({described}); worker logs in {run_dir}")
        env["PREFECT_API_URL"] = standin.api_url
        for code in [path for path in (args.before, args.code) if path]:
            LlmSession.objects.all().delete()
            figures = run_worker(code, flow_run_id, env, run_dir / f"worker-{code.name}.log")
            rows.append(result_row(code, args.lines, figures, root_causes, flow_run_id))
    finally:
        standin.stop()
    print("| worker code | lines in log | wall time | CPU time | peak RSS | root causes in excerpt "
          "| in stored evidence | skip stated | exit | excerpt header | stage timings (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
