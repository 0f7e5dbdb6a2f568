"""What the benchmarks start: a fresh PostgreSQL database (`ddpui_bench`), gunicorn with a chosen worker
configuration, and a real qcluster, all through the harness's process helpers (own process group, log file,
stopped in reverse order even when the script fails).

The web server is the production command (`scripts/serve.sh`, nginx in front of gunicorn) through the
harness's `start_web`; `start_gunicorn` here chooses workers and threads and drops the access log (it costs CPU).
"""

import os
import secrets
import tempfile
from pathlib import Path

from harness.app import AppConfig, app_env, start_web
from harness.database import migrate, own_database_url, prepare_database
from harness.processes import ManagedProcess, ProcessStack

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
    # Without DEBUG the app refuses the default key: a key of this run's own, shared with the processes it starts.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
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
    """The production web command (nginx in front of gunicorn, the harness's `start_web`) with `workers`
    processes of `threads` threads (gthread when threads > 1); returns the process and nginx's base URL."""
    # An INFO line per request would be measured too (the qcluster keeps INFO: the harness waits for its line).
    return start_web(stack, {**env, "LOG_LEVEL": "WARNING"}, workers=workers, threads=threads, gunicorn_args=())
