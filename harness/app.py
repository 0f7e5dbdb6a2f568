"""Our app as it runs in production: `scripts/serve.sh` (nginx in front of gunicorn serving ddpui.wsgi) and a
real `manage.py qcluster`, both with the environment the caller chooses (database, Prefect, Airbyte stand-in,
LLM or none). Every test, bench and script starts the app's processes here."""

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import httpx
from django.conf import settings as django_settings

from harness import REPO_ROOT
from harness.processes import HarnessError, ManagedProcess, ProcessStack, free_port, http_answers, wait_until

WEB_WORKERS = 2
START_TIMEOUT_SECONDS = 60
COMMAND_TIMEOUT_SECONDS = 120
WEBHOOK_PATH = "/webhooks/v1/notification/"
# Django-Q2 logs this once its workers, monitor and pusher are up.
CLUSTER_RUNNING = re.compile(r"Q Cluster \S+.* running\.")
# Variables of the caller's environment that must not leak into the app (the test's or shell's own choices).
INHERITED_PREFIXES_TO_DROP = ("PREFECT_", "OPENAI_", "AIRBYTE_", "DATABASE_URL", "LOG_SETTLE_", "LOG_QUIET_", "Q_", "DJANGO_")


@dataclass
class AppConfig:
    """What the app processes are pointed at."""

    database_url: str
    prefect_api_url: str
    webhook_key: str
    airbyte_port: int
    openai_api_key: str = ""
    openai_base_url: str = ""
    log_settle_interval_seconds: float = 1.0
    log_settle_max_seconds: float = 4.0
    # Any other settings the caller chooses (Q_*, LLM_*, SUMMARY_*): applied last, so they win over both the
    # inherited environment (whose Q_* and the like are dropped) and the defaults above.
    settings: dict[str, str] = field(default_factory=dict)


def app_env(config: AppConfig, prefect_home: str) -> dict[str, str]:
    """The environment of every app process (every setting of ddpui is an environment variable)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(INHERITED_PREFIXES_TO_DROP)}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ddpui.settings",
            # The caller's own key (it may enqueue tasks the cluster runs: both must sign alike). Without DEBUG
            # the app refuses the default key, so callers set one (tests/settings.py, the bench, the demo).
            "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
            "DATABASE_URL": config.database_url,
            "PREFECT_API_URL": config.prefect_api_url,
            # prefect-client keeps its profile under PREFECT_HOME: not in the user's home.
            "PREFECT_HOME": prefect_home,
            "PREFECT_NOTIFICATIONS_WEBHOOK_KEY": config.webhook_key,
            "AIRBYTE_SERVER_HOST": "127.0.0.1",
            "AIRBYTE_SERVER_PORT": str(config.airbyte_port),
            "AIRBYTE_SERVER_APIVER": "v1",
            "LOG_SETTLE_INTERVAL_SECONDS": str(config.log_settle_interval_seconds),
            "LOG_SETTLE_MAX_SECONDS": str(config.log_settle_max_seconds),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if config.openai_api_key:
        env["OPENAI_API_KEY"] = config.openai_api_key
    if config.openai_base_url:
        env["OPENAI_BASE_URL"] = config.openai_base_url
    env.update(config.settings)
    return env


def start_web(stack: ProcessStack, env: dict[str, str], *, workers: int = WEB_WORKERS, threads: int = 1,
              gunicorn_args: tuple[str, ...] = ("--access-logfile", "-")) -> tuple[ManagedProcess, str]:
    """The production web command, `scripts/serve.sh` (nginx buffering in front of gunicorn), on free loopback
    ports; returns the process (its log holds gunicorn's output) and nginx's base URL once it answers."""
    port, backend = free_port(), free_port()
    process = stack.start(
        "web",
        ["bash", str(REPO_ROOT / "scripts" / "serve.sh"), *gunicorn_args],
        env={**env, "WEB_LISTEN": f"127.0.0.1:{port}", "WEB_BACKEND": f"127.0.0.1:{backend}",
             "WEB_RUN_DIR": str(stack.run_dir / "web"), "WEB_WORKERS": str(workers), "WEB_THREADS": str(threads),
             "PYTHON": sys.executable},
        cwd=REPO_ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_answers(base_url + WEBHOOK_PATH) and not web_says_unavailable(base_url),
               timeout=START_TIMEOUT_SECONDS, what=f"nginx and gunicorn at {base_url}", watch=[process], interval=0.3)
    return process, base_url


def start_gunicorn_alone(stack: ProcessStack, env: dict[str, str], *, workers: int = WEB_WORKERS) -> str:
    """gunicorn alone, sync workers, facing the clients itself (the way the app was served before nginx); its
    base URL once it answers."""
    port = free_port()
    process = stack.start("gunicorn-direct", [sys.executable, "-m", "gunicorn", "ddpui.wsgi", "--bind",
                                              f"127.0.0.1:{port}", "--workers", str(workers), "--timeout", "30"],
                          env=env, cwd=REPO_ROOT)
    base_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_answers(base_url + WEBHOOK_PATH), timeout=START_TIMEOUT_SECONDS, what="gunicorn",
               watch=[process])
    return base_url


def web_says_unavailable(base_url: str) -> bool:
    """nginx answers but gunicorn does not yet (nginx's 503)."""
    try:
        return httpx.get(base_url + WEBHOOK_PATH, timeout=2).status_code == 503
    except httpx.HTTPError:
        return True


def start_cluster(stack: ProcessStack, env: dict[str, str], name: str = "qcluster") -> ManagedProcess:
    """A real qcluster (`name` names its process and log: several clusters may share the database, as
    several hosts would). Stopped by SIGTERM to its main process only, which lets it drain its workers."""
    process = stack.start(
        name, [sys.executable, "manage.py", "qcluster"], env=env, cwd=REPO_ROOT, signal_group=False
    )
    wait_until(lambda: CLUSTER_RUNNING.search(process.output_since_start()), timeout=START_TIMEOUT_SECONDS,
               what="the qcluster to start", watch=[process], interval=0.3)
    return process


def run_manage(env: dict[str, str], *args: str) -> str:
    """Run one management command with the app's environment; its output, or HarnessError with it."""
    try:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"manage.py {args[0]} did not finish in {COMMAND_TIMEOUT_SECONDS} s") from exc
    if done.returncode != 0:
        raise HarnessError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    return done.stdout
