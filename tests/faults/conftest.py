"""Fixtures of the fault tests: qclusters that can be killed and restarted, Dalgo runs whose logs hold secrets,
notification bodies in Prefect's formats, the read API, the schedules' sweeps, and a scan for leaked secrets.

Processes are the harness's (harness/app.py, harness/processes.py); everything else reuses tests/conftest.py
(process_env, poll_until, the stand-ins, `dalgo_runs`).
"""

import datetime
import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.apps import apps
from django.db import connection, models
from django.utils import timezone
from django_q.models import OrmQ, Task

from ddpui.models import LlmSession, Notification
from harness.app import start_cluster, start_web
from harness.processes import ManagedProcess, ProcessStack, pids_connected_to
from standins.airbyte_api import failure
from standins.llm_api import CHAT_PATH
from tests.conftest import poll_until, process_env

WEBHOOK_PATH = "/webhooks/v1/notification/"
HANDLE_NOTIFICATION_TASK = "tasks.webhooks.handle_notification"

# Secrets a real pipeline leaks into its logs, state messages and Airbyte failure reasons. Each value is unique
# enough that finding it anywhere (LLM request, database column) can only mean it was not redacted.
SECRETS = {
    "password": "Tr0ub4dor-and-3-horses",
    "postgres_url_password": "Pg-Secr3t-9931",
    "openai_key": "sk-proj-4f8Qz7LmN2pR9sT1vW3xY5aB6cD8eF0gH1jK",
    "aws_access_key": "AKIAZ3Q7R2M5T8W4X6Y9",
    "bearer_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYWxnbyJ9.c2lnbmF0dXJlLXNlY3JldC0xMjM0NQ",
}
SECRET_LOG_LINES = [
    f"connecting to warehouse with password={SECRETS['password']}",
    f"dsn: postgresql://etl_user:{SECRETS['postgres_url_password']}@warehouse.internal:5432/analytics",
    f"OPENAI_API_KEY={SECRETS['openai_key']} loaded from env",
    f"boto3 client created with aws_access_key_id {SECRETS['aws_access_key']}",
    f"GET https://api.partner.example/v2/export -H 'Authorization: Bearer {SECRETS['bearer_token']}'",
]
# A dbt failure whose log also prints credentials (dbt debug output and a noisy macro do this).
LEAKY_DBT_LOG = [
    "Running with dbt=1.8.2",
    *SECRET_LOG_LINES,
    "1 of 12 ERROR creating sql table model analytics.stg_customers ....... [ERROR in 0.21s]",
    "Database Error in model stg_customers (models/staging/stg_customers.sql)",
    '  column "id" does not exist',
    "Done. PASS=0 WARN=0 ERROR=1 SKIP=11 TOTAL=12",
]
LEAKY_AIRBYTE_LOG = [
    "2024-05-01 10:00:00 INFO Starting replication for connection",
    *[f"2024-05-01 10:00:01 source > {line}" for line in SECRET_LOG_LINES],
    "2024-05-01 10:00:03 ERROR source > HTTP 403 Forbidden: API key lacks scope marketing.read",
]
LEAKY_STATE_MESSAGE = f"Task run encountered an exception: could not connect with password={SECRETS['password']}"


def pytest_configure(config):
    """Register the `pg_restart` marker (runs by default; `-m "not pg_restart"` skips the PostgreSQL restart)."""
    config.addinivalue_line(
        "markers", "pg_restart: restarts the shared PostgreSQL server once (disrupts other suites' connections)"
    )


# ---- processes --------------------------------------------------------------------------------------------


class Clusters:
    """Starts `manage.py qcluster` processes (the harness's start_cluster) with extra environment, and kills them
    like an OOM killer would.

    Every process started here is stopped at teardown (SIGTERM to the main process, then SIGKILL to its group).
    """

    def __init__(self, settings, run_dir: Path):
        self.settings = settings
        self.env: dict[str, str] = {}
        self.stack = ProcessStack(run_dir)
        self.started: list[ManagedProcess] = []

    def start(self, **env: str) -> ManagedProcess:
        """Start a cluster and wait until it runs; `env` adds to (and is remembered over) the environment of
        earlier starts."""
        self.env.update(env)
        process = start_cluster(self.stack, process_env(self.settings, **self.env), name=f"qcluster-{len(self.started)}")
        self.started.append(process)
        return process

    def kill_all(self, process: ManagedProcess) -> None:
        """SIGKILL a cluster's whole process group (main process, sentinel, workers): nothing drains."""
        process.kill()

    def kill_worker_connected_to(self, process: ManagedProcess, port: int) -> int:
        """SIGKILL the one worker that has a request open to `port` (e.g. the LLM stand-in); returns its pid."""
        holders = poll_until(lambda: pids_connected_to(process.popen.pid, port), timeout=10, what="the worker's socket")
        assert len(holders) == 1, f"expected one worker talking to port {port}, found {holders}"
        os.kill(holders[0], signal.SIGKILL)
        return holders[0]

    def log_text(self) -> str:
        """The output of every cluster started, oldest first."""
        return "\n".join(process.output_since_start() for process in self.started)

    def stop(self) -> None:
        """Stop every cluster still running and show the tail of their logs."""
        self.stack.stop_all()
        print(self.log_text()[-6000:])


@pytest.fixture
def clusters(transactional_db, settings, tmp_path):
    """A starter of real qcluster processes on this test's PostgreSQL database; all are stopped at teardown."""
    if connection.vendor != "postgresql":
        pytest.skip("the fault tests need PostgreSQL (set DATABASE_URL)")
    started = Clusters(settings, tmp_path)
    yield started
    started.stop()


# ---- runs that leak secrets ---------------------------------------------------------------------------------


class LeakyRuns:
    """Failed Dalgo runs (in the stand-ins) whose logs, state messages and Airbyte failures hold SECRETS."""

    def __init__(self, dalgo_runs):
        self.runs = dalgo_runs

    def dbt_failure(self, **run_fields) -> dict:
        """A run whose sync succeeded and whose dbt step failed, logging secrets."""
        run, connections = self.runs.pipeline(connections=1, message=LEAKY_STATE_MESSAGE, **run_fields)
        self.runs.sync_subflow(run, connections[0], failed=False)
        self.runs.airbyte_job(connections[0], status="succeeded")
        self.runs.dbt_task(run, lines=LEAKY_DBT_LOG, message=LEAKY_STATE_MESSAGE)
        return run

    def sync_failure(self, **run_fields) -> tuple[dict, str]:
        """A run whose Airbyte sync failed; Airbyte's failure reason and attempt log hold secrets."""
        run, connections = self.runs.pipeline(connections=1, dbt_slugs=(), message=LEAKY_STATE_MESSAGE, **run_fields)
        self.runs.sync_subflow(run, connections[0], failed=True)
        self.runs.airbyte.add_job(
            connections[0], "failed", self.runs.started + datetime.timedelta(minutes=1),
            attempts=[{
                "failures": [failure(
                    "Forbidden: API key lacks scope marketing.read", origin="source", failure_type="config_error",
                    internal_message=f"401 from partner API with Authorization: Bearer {SECRETS['bearer_token']}",
                    stacktrace=f"Traceback ...\nConnectionError: postgresql://etl_user:{SECRETS['postgres_url_password']}@db/x",
                )],
                "log_lines": LEAKY_AIRBYTE_LOG,
            }],
        )
        return run, connections[0]


@pytest.fixture
def leaky_runs(dalgo_runs) -> LeakyRuns:
    """A builder of failed runs whose evidence holds secrets (see SECRETS)."""
    return LeakyRuns(dalgo_runs)


class Webhook:
    """Posts notifications to our web server as Prefect would."""

    def __init__(self, url: str, key: str):
        self.url, self.key = url + WEBHOOK_PATH, key

    def post(self, body: dict) -> httpx.Response:
        """One delivery."""
        return httpx.post(self.url, content=json.dumps(body), timeout=30,
                          headers={"X-Notification-Key": self.key, "Content-Type": "application/json"})

    def storm(self, bodies: list[dict]) -> list[httpx.Response]:
        """All deliveries at the same moment, one thread each (a barrier releases them together)."""
        barrier = threading.Barrier(len(bodies))

        def deliver(body: dict) -> httpx.Response:
            barrier.wait(timeout=30)
            return self.post(body)

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            return list(pool.map(deliver, bodies))


@pytest.fixture
def web_url(transactional_db, settings, webhook_key, tmp_path):
    """Our app served as in production (`scripts/serve.sh`: nginx in front of gunicorn, here 2 x 8 gthread;
    Django's live server resets connections beyond a small listen backlog, so it cannot take a 50-delivery
    burst) on this test's database; stopped at teardown."""
    stack = ProcessStack(tmp_path / "web")
    try:
        _, url = start_web(stack, process_env(settings), threads=8)
        yield url
    finally:
        stack.stop_all()


@pytest.fixture
def webhook(web_url, webhook_key) -> Webhook:
    """A Prefect stand-in for the sending side: posts to /webhooks/v1/notification/ over real HTTP."""
    return Webhook(web_url, webhook_key)


@pytest.fixture
def read_summary(web_url, token):
    """GET /api/v1/flow_runs/{id}/summary as the org's manager; returns the JSON answer."""

    def read(flow_run_id: str) -> dict:
        response = httpx.get(f"{web_url}/api/v1/flow_runs/{flow_run_id}/summary", timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return response.json()

    return read


# ---- time and queues --------------------------------------------------------------------------------------


def make_due(model: type[models.Model], **filters) -> int:
    """Let time pass for the matching rows: their retry is due and any lease has run out (as minutes later)."""
    past = timezone.now() - datetime.timedelta(seconds=1)
    return model.objects.filter(**filters).update(next_attempt_at=past, lease_until=past)


@pytest.fixture
def due_now():
    """make_due, for tests: ages next_attempt_at and lease_until of the matching rows into the past."""
    return make_due


def queue_drained() -> bool:
    """No task queued or running in the ORM broker."""
    return not OrmQ.objects.exists()


def task_results(func: str) -> list[Task]:
    """The Django-Q2 results (successes and failures) of one task function."""
    return list(Task.objects.filter(func=func))


@pytest.fixture
def broker():
    """Helpers over Django-Q2's tables: `drained()`, `results(func)`, `handler_runs()` per notification id."""

    class Broker:
        drained = staticmethod(queue_drained)
        results = staticmethod(task_results)

        @staticmethod
        def handler_runs() -> dict[int, int]:
            """How many times the handler ran for each notification id."""
            runs: dict[int, int] = {}
            for task in task_results(HANDLE_NOTIFICATION_TASK):
                runs[int(task.args[0])] = runs.get(int(task.args[0]), 0) + 1
            return runs

    return Broker


# ---- secrets ----------------------------------------------------------------------------------------------


def text_columns(model: type[models.Model]) -> list[str]:
    """The model's text and JSON columns (where a secret could be stored)."""
    return [f.name for f in model._meta.concrete_fields if isinstance(f, (models.CharField, models.TextField, models.JSONField))]


def stored_texts() -> list[tuple[str, str]]:
    """(table.column, value as text) for every text/JSON column of every ddpui table."""
    found = []
    for model in apps.get_app_config("ddpui").get_models():
        columns = text_columns(model)
        for row in model.objects.values(*columns) if columns else []:
            for column, value in row.items():
                if value not in (None, "", [], {}):
                    found.append((f"{model._meta.db_table}.{column}", json.dumps(value) if not isinstance(value, str) else value))
    return found


def find_secrets(texts: list[tuple[str, str]]) -> list[str]:
    """`where: secret name` for each secret value found in the texts."""
    return [f"{where}: {name}" for where, text in texts for name, value in SECRETS.items() if value in text]


@pytest.fixture
def assert_no_secrets(llm_api):
    """Check that no SECRETS value reached the LLM (request bodies) or any ddpui text/JSON column.

    Also checks the scan is not vacuous: the stored rows it reads must include the summary and the notification.
    """

    def check() -> None:
        sent = [(f"LLM request {n}", request.body.decode(errors="replace"))
                for n, request in enumerate(llm_api.requests("POST", CHAT_PATH))]
        stored = stored_texts()
        tables = {where.split(".")[0] for where, _ in stored}
        assert {Notification._meta.db_table, LlmSession._meta.db_table} <= tables, tables
        leaks = find_secrets(sent + stored)
        assert not leaks, f"secrets not redacted: {leaks}"

    return check
