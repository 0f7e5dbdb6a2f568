"""What the benchmarks start: a fresh PostgreSQL database (`ddpui_bench`), gunicorn with a chosen worker
configuration, and a real qcluster, all through the harness's process helpers (own process group, log file,
stopped in reverse order even when the script fails).

The harness's `start_web` runs a fixed two sync workers; the benchmarks need to choose workers and threads,
so `start_gunicorn` here is the same start with those knobs and without the access log (it costs CPU).
"""

import os
import sys
import tempfile
from pathlib import Path

from harness.app import START_TIMEOUT_SECONDS, WEBHOOK_PATH, AppConfig, app_env
from harness.database import migrate, own_database_url, prepare_database
from harness.prefect_venv import REPO_ROOT
from harness.processes import ManagedProcess, ProcessStack, free_port, http_answers, wait_until

BENCH_DATABASE_NAME = "ddpui_bench"
WEBHOOK_KEY = "bench-webhook-key-6d1f0c"


def bench_database_url() -> str:
    """BENCH_DATABASE_URL, else `ddpui_bench` on DATABASE_URL's PostgreSQL server (or the local one)."""
    return own_database_url(BENCH_DATABASE_NAME, override_env="BENCH_DATABASE_URL")


def use_bench_database() -> str:
    """Point this process's Django at the bench database (call before django.setup()); returns its URL."""
    url = bench_database_url()
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "ddpui.settings"
    return url


def run_directory(name: str) -> Path:
    """A fresh directory for one run's logs."""
    return Path(tempfile.mkdtemp(prefix=f"ddpui-bench-{name}-"))


def bench_env(run_dir: Path, *, prefect_api_url: str = "http://127.0.0.1:9/api", airbyte_port: int = 9,
              openai_base_url: str = "", **overrides: str) -> dict[str, str]:
    """The app processes' environment (the harness's app_env) on the bench database, plus `overrides`."""
    config = AppConfig(
        database_url=bench_database_url(), prefect_api_url=prefect_api_url, webhook_key=WEBHOOK_KEY,
        airbyte_port=airbyte_port, openai_api_key="sk-bench" if openai_base_url else "",
        openai_base_url=openai_base_url, log_settle_interval_seconds=0.1, log_settle_max_seconds=1.0,
    )
    env = app_env(config, str(run_dir / "prefect-home"))
    env.update(overrides)
    return env


def fresh_database(env: dict[str, str], run_dir: Path) -> None:
    """Drop, create and migrate the bench database with the project's own `manage.py migrate`."""
    prepare_database(env["DATABASE_URL"], fresh=True)
    migrate(env, run_dir / "migrate.log")


def start_gunicorn(stack: ProcessStack, env: dict[str, str], *, workers: int, threads: int) -> tuple[ManagedProcess, str]:
    """gunicorn serving ddpui.wsgi on a free loopback port with `workers` processes of `threads` threads
    (gthread when threads > 1); returns the process and its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "ddpui.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--timeout", "30"]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    # An INFO line per request would be measured too (the qcluster keeps INFO: the harness waits for its line).
    process = stack.start("gunicorn", command, env={**env, "LOG_LEVEL": "WARNING"}, cwd=REPO_ROOT)
    base_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_answers(base_url + WEBHOOK_PATH), timeout=START_TIMEOUT_SECONDS,
               what=f"gunicorn at {base_url}", watch=[process], interval=0.3)
    return process, base_url
