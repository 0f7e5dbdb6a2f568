"""Benchmark: one failure summary of a dbt step whose log has 1,000,102 lines, its error in the last lines.

Run from the repository root: ``python -m bench.huge_log`` (``--lines N``, ``--position 0-1`` where the real
failure sits, ``--code DIR`` to run the worker from another checkout, e.g. ``git archive main`` unpacked, for
a before/after: ``--before DIR`` runs that checkout's worker first on the same seeded log).

The Prefect stand-in runs in this process and holds the log (a real dbt failure, shared log 15, embedded in
generated dbt noise). The worker is a child process doing exactly what the cluster does for a failed run:
``manage.py summarize_flow_run <id>`` (locate -> evidence -> condense -> offline summary -> store) on a
database of its own, migrated by that checkout. Printed: the child's wall time, CPU time and peak RSS (``wait4``; on a shared machine
the CPU time is the steadier figure), the lines the excerpt says it read, whether the labelled root-cause lines reached the excerpt and the stored evidence, and whether the
excerpt says how much was not read.
"""

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.noise import embedded_log
from harness import REPO_ROOT
from harness.database import own_database_url, prepare_database
from standins.__main__ import seed_prefect
from standins.prefect_api import PrefectStandin
from tests.fixtures.labelled_logs import load_labels

REAL_LOG = "15_dbt_postgres-column-does-not-exist.log"
ORG_SLUG = "demo-org"  # the org seed_prefect's run names


def real_failure() -> tuple[list[str], list[str]]:
    """The real dbt failure's lines and its labelled root-cause substrings."""
    label = next(label for label in load_labels() if label["file"] == REAL_LOG)
    return label["lines"], label["root_cause_lines"]


def manage(code: Path, env: dict[str, str], log_path: Path, *args: str) -> None:
    """Run one manage.py command of the checkout ``code``; its output goes to ``log_path``."""
    with open(log_path, "ab") as log:
        subprocess.run([sys.executable, "manage.py", *args], cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT,
                       check=True)


def worker_database(code: Path, name: str, env: dict[str, str], log_path: Path) -> str:
    """A fresh database migrated by the checkout ``code``, holding the run's org; returns its URL."""
    url = own_database_url(name, override_env=f"BENCH_{name.upper()}_URL")
    prepare_database(url, fresh=True)
    env = {**env, "DATABASE_URL": url}
    manage(code, env, log_path, "migrate", "--noinput")
    manage(code, env, log_path, "create_org", "--name", "Demo org", "--email", "manager@demo.test", "--slug", ORG_SLUG)
    return url


def peak_rss(pid: int) -> int:
    """The process's peak resident set since its exec (VmHWM), in bytes; 0 once it is gone. Not wait4's
    ru_maxrss: Linux carries the forking parent's peak over an exec, and this parent holds the whole log."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def run_worker(code: Path, flow_run_id: str, env: dict[str, str], log_path: Path) -> tuple[float, float, int, int]:
    """Run the worker's summary in a child process: (wall seconds, CPU seconds, peak RSS in bytes, exit status).
    The peak is sampled every 50 ms (VmHWM only grows, so the last sample is the peak up to then)."""
    started = time.perf_counter()
    peak = 0
    with open(log_path, "ab") as log:
        child = subprocess.Popen([sys.executable, "manage.py", "summarize_flow_run", flow_run_id, "--json"],
                                 cwd=code, env=env, stdout=log, stderr=subprocess.STDOUT)
        while True:
            peak = max(peak, peak_rss(child.pid))
            finished, status, usage = os.wait4(child.pid, os.WNOHANG)
            if finished:
                break
            time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - started, cpu, peak, child.returncode


def result_row(code: Path, url: str, lines: int, figures: tuple[float, float, int, int],
               root_causes: list[str]) -> str:
    """One table row: the worker's figures and what its stored summary holds."""
    seconds, cpu, peak, status = figures
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT excerpt, evidence, timings FROM ddpui_llmsession").fetchone()
    excerpt, evidence, timings = row or ("", [], {})
    evidence = "\n".join(item.get("text", "") for item in evidence or [])
    header = next((line for line in excerpt.splitlines() if line.startswith("Log excerpt")), "(no excerpt)")
    return (f"| {code.name} | {lines:,} | {seconds:.1f} s | {cpu:.1f} s | {peak / 2**20:,.0f} MiB "
            f"| {sum(cause in excerpt for cause in root_causes)}/{len(root_causes)} "
            f"| {sum(cause in evidence for cause in root_causes)}/{len(root_causes)} "
            f"| {'yes' if 'not read' in excerpt else 'no'} | {status} | {header} | {timings} |")


def main() -> None:
    """Seed the stand-in, run each worker once on the same log, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_102)
    parser.add_argument("--position", type=float, default=1.0, help="where the real failure sits (1.0: the end)")
    parser.add_argument("--code", type=Path, default=REPO_ROOT, help="checkout the worker runs from")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to run first, same log")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="ddpui-bench-huge-log-"))
    env = {**os.environ, "OPENAI_API_KEY": "", "DJANGO_SETTINGS_MODULE": "ddpui.settings",
           "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)}
    codes = [(path, f"ddpui_bench_huge_log{suffix}") for path, suffix in ((args.before, "_before"), (args.code, ""))
             if path]
    urls = [worker_database(code, name, env, run_dir / f"setup-{code.name}.log") for code, name in codes]
    real, root_causes = real_failure()
    standin = PrefectStandin().start()
    rows = []
    try:
        seeded = time.perf_counter()
        described = seed_prefect(standin, embedded_log(real, "dbt", args.lines, position=args.position))
        flow_run_id = described.split()[2]
        print(f"Seeded the Prefect stand-in with {args.lines:,} log lines in {time.perf_counter() - seeded:.0f}s "
              f"({described}); worker logs in {run_dir}")
        for (code, _), url in zip(codes, urls, strict=True):
            worker_env = {**env, "DATABASE_URL": url, "PREFECT_API_URL": standin.api_url}
            figures = run_worker(code, flow_run_id, worker_env, run_dir / f"worker-{code.name}.log")
            rows.append(result_row(code, url, args.lines, figures, root_causes))
    finally:
        standin.stop()
    print("| worker code | lines in log | wall time | CPU time | peak RSS | root causes in excerpt "
          "| in stored evidence | skip stated | exit | excerpt header | stage timings (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
