"""Shared fixtures: an org with a manager and a token, webhook settings, and Dalgo-shaped parameters."""

import datetime
import os
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from model_bakery import baker

from ddpui.core.auth.api_tokens import issue_token
from ddpui.models import Org, OrgDataFlow, OrgPreferences, OrgTask, OrgUser, OrgUserRole
from harness.app import start_cluster
from harness.processes import HarnessError, ProcessStack, wait_until
from standins.airbyte_api import AirbyteStandin, failure
from standins.discord_api import DiscordStandin
from standins.llm_api import CHAT_PATH, LlmStandin
from standins.prefect_api import PrefectStandin
from standins.smtp_sink import SmtpSink

WEBHOOK_KEY = "test-webhook-key-3f9a"


@pytest.fixture
def webhook_key(settings):
    """The webhook key set in settings; returned for the X-Notification-Key header."""
    settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY = WEBHOOK_KEY
    return WEBHOOK_KEY


@pytest.fixture
def org(db) -> Org:
    """An org with slug `ngo-one`, opted in to LLM summaries (Dalgo's llm_optin: its admin approved)."""
    org = baker.make(Org, name="NGO One", slug="ngo-one")
    OrgPreferences.objects.filter(org=org).update(
        llm_optin=True, llm_optin_date=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    )
    return org


@pytest.fixture
def org_not_opted_in(db) -> Org:
    """An org whose admin never opted in: none of its log lines may reach the LLM."""
    org = baker.make(Org, name="NGO Private", slug="ngo-private")
    OrgPreferences.objects.filter(org=org).update(llm_optin=False)
    return org


@pytest.fixture
def manager(org) -> OrgUser:
    """A manager of `org` with an email address."""
    user = get_user_model().objects.create(username="manager@ngo.test", email="manager@ngo.test")
    return OrgUser.objects.create(user=user, org=org, role=OrgUserRole.SUPER_ADMIN)


@pytest.fixture
def token(manager) -> str:
    """A live API token of the manager."""
    return issue_token(manager)


@pytest.fixture
def other_org_token(db) -> str:
    """A live API token of a user of another org."""
    other = baker.make(Org, name="NGO Two", slug="ngo-two")
    user = get_user_model().objects.create(username="analyst@two.test", email="analyst@two.test")
    return issue_token(OrgUser.objects.create(user=user, org=other, role=OrgUserRole.ANALYST))


def dalgo_tasks(connection_ids: list[str], dbt_slugs: list[str] = ("dbt-run",)) -> list[dict]:
    """`parameters.config.tasks` of an orchestrated pipeline: syncs first, then dbt steps."""
    tasks = []
    for seq, connection_id in enumerate(connection_ids, 1):
        tasks.append(
            {
                "slug": "airbyte-sync",
                "type": "Airbyte Connection",
                "seq": seq,
                "connection_id": connection_id,
                "orgtask_uuid": str(uuid.uuid4()),
                "airbyte_server_block": "ngo-one-airbyte-server",
            }
        )
    for offset, slug in enumerate(dbt_slugs, len(tasks) + 1):
        tasks.append({"slug": slug, "type": "dbt Core Operation", "seq": offset, "orgtask_uuid": str(uuid.uuid4())})
    return tasks


@pytest.fixture
def make_dataflow(org):
    """Make a deployment of `org` whose org tasks exist; returns (dataflow, parameters)."""

    def make(connection_ids: list[str], dbt_slugs: list[str] = ("dbt-run",), deployment_id: str | None = None):
        dataflow = OrgDataFlow.objects.create(
            org=org, name="pipeline", deployment_id=deployment_id or str(uuid.uuid4())
        )
        tasks = dalgo_tasks(connection_ids, list(dbt_slugs))
        for task in tasks:
            orgtask = OrgTask.objects.create(
                uuid=task["orgtask_uuid"], org=org, task_slug=task["slug"], connection_id=task.get("connection_id")
            )
            orgtask.dataflows.add(dataflow)
        parameters = {"config": {"org_slug": org.slug, "tasks": tasks, "continue_on_sync_failure": False}}
        return dataflow, parameters

    return make


@pytest.fixture
def prefect_api(settings):
    """A fake Prefect API on a real socket; settings point prefect-client at it. Logs settle fast in tests."""
    server = PrefectStandin().start()
    settings.PREFECT_API_URL = server.api_url
    settings.LOG_QUIET_SECONDS = 0.3
    settings.LOG_SETTLE_INTERVAL_SECONDS = 0.05
    settings.LOG_SETTLE_MAX_SECONDS = 1.0
    yield server
    server.stop()


@pytest.fixture
def airbyte_api(settings):
    """A fake Airbyte Config API on a real socket; settings point our client at it."""
    server = AirbyteStandin().start()
    settings.AIRBYTE_SERVER_HOST = "127.0.0.1"
    settings.AIRBYTE_SERVER_PORT = str(server.port)
    settings.AIRBYTE_SERVER_APIVER = "v1"
    yield server
    server.stop()


@pytest.fixture
def llm_api(settings):
    """An OpenAI-compatible stand-in; settings turn the LLM path on against it."""
    server = LlmStandin().start()
    settings.OPENAI_API_KEY = "sk-test-not-a-real-key"
    settings.OPENAI_BASE_URL = server.base_url
    settings.LLM_TIMEOUT_SECONDS = 5
    yield server
    server.stop()


@pytest.fixture
def smtp_sink(settings):
    """A local SMTP server on a real socket; Django's SMTP backend sends to it."""
    sink = SmtpSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", sink.port, False
    settings.EMAIL_TIMEOUT = 5
    yield sink
    sink.stop()


@pytest.fixture
def discord_api(settings, org):
    """A Discord-shaped webhook server on a real socket, allowed and enabled for `org`."""
    server = DiscordStandin().start()
    settings.DISCORD_WEBHOOK_ALLOWED_PREFIXES = [f"{server.url}/api/webhooks/"]
    OrgPreferences.objects.filter(org=org).update(enable_discord_notifications=True,
                                                  discord_webhook=server.webhook_url())
    yield server
    server.stop()


# Every chat request the LLM stand-ins received for an org that had not opted in at that moment, over the whole
# run; printed at the end and it must be 0 (the run fails otherwise).
LLM_REQUESTS_NOT_OPTED_IN: list[str] = []


def requests_not_opted_in(server: LlmStandin) -> list[str]:
    """The slugs (OpenAI's `user` field) of chat requests whose org had not opted in when the request came."""
    found = []
    for recorded in server.requests("POST", CHAT_PATH):
        slug = recorded.json.get("user") if isinstance(recorded.json, dict) else None
        if slug is None:
            continue  # a stand-in test's own request, not our client's
        preferences = OrgPreferences.objects.filter(org__slug=slug).first()
        arrived = datetime.datetime.fromtimestamp(recorded.time, datetime.timezone.utc)
        if preferences is None:
            found.append(slug)
        elif preferences.llm_optin and (preferences.llm_optin_date or arrived) > arrived:
            found.append(slug)  # opted in only after this request
        elif not preferences.llm_optin and preferences.updated_at <= arrived:
            found.append(slug)  # opted out (or never in) before this request
    return found


@pytest.fixture(autouse=True)
def llm_optin_audit(request):
    """Counts, after each test that ran the LLM stand-in on a database, the requests it got for orgs that had not
    opted in. Set up after the database and the stand-in so that it tears down first, while both are there."""
    if "llm_api" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("offline_llm_by_default")  # before llm_api, which turns the key on
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            break
    else:
        yield
        return
    server = request.getfixturevalue("llm_api")
    yield
    LLM_REQUESTS_NOT_OPTED_IN.extend(requests_not_opted_in(server))


def pytest_terminal_summary(terminalreporter):
    """The run's figure: LLM requests made for an org that had not opted in (must be 0)."""
    terminalreporter.write_line(
        f"LLM requests made for an org that had not opted in: {len(LLM_REQUESTS_NOT_OPTED_IN)}"
    )


def pytest_sessionfinish(session):
    """A request for an org that had not opted in fails the run, whatever else passed."""
    if LLM_REQUESTS_NOT_OPTED_IN and session.exitstatus == 0:
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def offline_llm_by_default(settings):
    """Tests use the offline summarizer unless they ask for the llm_api fixture."""
    settings.OPENAI_API_KEY = ""


DBT_ERROR_LOG = [
    "Running with dbt=1.8.2",
    "Found 12 models, 4 tests, 0 snapshots, 2 sources",
    "Concurrency: 4 threads (target='prod')",
    "1 of 12 START sql table model analytics.stg_customers ................ [RUN]",
    "1 of 12 ERROR creating sql table model analytics.stg_customers ....... [ERROR in 0.21s]",
    "Database Error in model stg_customers (models/staging/stg_customers.sql)",
    '  column "id" does not exist',
    "  LINE 12:     id as customer_id,",
    "connecting with postgresql://dalgo_user:S3cretPassw0rd@db.internal:5432/warehouse",
    "Done. PASS=0 WARN=0 ERROR=1 SKIP=11 TOTAL=12",
]
AIRBYTE_ATTEMPT_LOG = [
    "2024-05-01 10:00:00 INFO Starting replication for connection",
    "2024-05-01 10:00:01 source > Syncing stream: campaigns",
    "2024-05-01 10:00:02 source > api_key=SG.abcdefghijklmnop.qrstuvwxyz0123456789",
    "2024-05-01 10:00:03 ERROR source > HTTP 403 Forbidden: access forbidden. please ensure you have the correct scopes defined",
    "2024-05-01 10:00:04 INFO Source finished with exit code 1",
]


class DalgoRuns:
    """Builds Dalgo-shaped failed runs in the Prefect and Airbyte stand-ins (what Prefect would hold)."""

    dbt_error_log = DBT_ERROR_LOG

    def __init__(self, prefect_api, airbyte_api, make_dataflow):
        self.prefect, self.airbyte, self.make_dataflow = prefect_api, airbyte_api, make_dataflow
        self.started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)

    def pipeline(self, connections: int = 2, dbt_slugs=("dbt-run",), **run_fields) -> tuple[dict, list[str]]:
        """A failed root run of a deployment with `connections` syncs and dbt steps."""
        connection_ids = [str(uuid.uuid4()) for _ in range(connections)]
        dataflow, parameters = self.make_dataflow(connection_ids, dbt_slugs)
        fields = {"name": "crimson-owl", "state_type": "FAILED", "state_name": "Failed",
                  "message": "Flow run encountered an exception.", "start_time": self.started, **run_fields}
        run = self.prefect.add_flow_run(deployment_id=dataflow.deployment_id, parameters=parameters, **fields)
        return run, connection_ids

    def sync_subflow(self, run: dict, connection_id: str, *, failed: bool, name: str = "run-airbyte-connection-flow"):
        """An Airbyte sync as Dalgo runs it: a subflow (payload.connection_id) behind a placeholder task run."""
        child_id = str(uuid.uuid4())
        state = ("FAILED", "Failed") if failed else ("COMPLETED", "Completed")
        placeholder = self.prefect.add_task_run(run["id"], name=name, state_type=state[0], state_name=state[1],
                                                child_flow_run_id=child_id)
        self.prefect.add_flow_run(id=child_id, name=f"{name}-child", parent_task_run_id=placeholder["id"],
                                  parameters={"payload": {"connection_id": connection_id}},
                                  state_type=state[0], state_name=state[1], start_time=self.started)
        self.prefect.add_log(f"Syncing connection {connection_id}", flow_run_id=child_id)
        if failed:
            self.prefect.add_log(f"Job failed for connection {connection_id}", flow_run_id=child_id, level=40)
        return child_id

    def dbt_task(self, run: dict, slug: str = "dbt-run", *, failed: bool = True, lines=DBT_ERROR_LOG, **fields):
        """A dbt step as a task run named dbtjob-<slug> with its logs."""
        state = ("FAILED", "Failed") if failed else ("COMPLETED", "Completed")
        task = self.prefect.add_task_run(run["id"], name=f"dbtjob-{slug}", state_type=fields.pop("state_type", state[0]),
                                         state_name=fields.pop("state_name", state[1]), **fields)
        self.prefect.add_logs(lines, flow_run_id=run["id"], task_run_id=task["id"], level=40 if failed else 20)
        return task

    def airbyte_job(self, connection_id: str, *, minutes_after_start: float = 1, status: str = "failed",
                    message: str = "Forbidden: API key lacks scope marketing.read", lines=AIRBYTE_ATTEMPT_LOG):
        """A job of the connection in the Airbyte stand-in, with a failed attempt, its failureSummary and logs."""
        return self.airbyte.add_job(
            connection_id, status, self.started + datetime.timedelta(minutes=minutes_after_start),
            attempts=[{"failures": [failure(message, origin="source", failure_type="config_error")],
                       "log_lines": list(lines)}] if status == "failed" else [{}],
        )


@pytest.fixture
def dalgo_runs(prefect_api, airbyte_api, make_dataflow, manager) -> DalgoRuns:
    """A builder of Dalgo-shaped runs in the stand-ins."""
    return DalgoRuns(prefect_api, airbyte_api, make_dataflow)


def process_env(settings, **overrides) -> dict[str, str]:
    """The environment of a child process (qcluster, gunicorn) that shares this test's database and stand-ins."""
    database = connection.settings_dict
    env = {
        **os.environ,
        # The app's own settings, with this session's key: tasks signed here are accepted there.
        "DJANGO_SETTINGS_MODULE": "ddpui.settings",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "PREFECT_API_URL": settings.PREFECT_API_URL,
        "PREFECT_NOTIFICATIONS_WEBHOOK_KEY": settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY,
        "AIRBYTE_SERVER_HOST": settings.AIRBYTE_SERVER_HOST,
        "AIRBYTE_SERVER_PORT": str(settings.AIRBYTE_SERVER_PORT),
        "OPENAI_API_KEY": settings.OPENAI_API_KEY,
        "OPENAI_BASE_URL": settings.OPENAI_BASE_URL,
        "LOG_QUIET_SECONDS": "0.3",
        "LOG_SETTLE_INTERVAL_SECONDS": "0.05",
        "LOG_SETTLE_MAX_SECONDS": "1",
        "Q_POLL_SECONDS": "0.05",
        "Q_WORKERS": "2",
    }
    env.update(overrides)
    return env


@pytest.fixture
def qcluster(transactional_db, settings, tmp_path):
    """A real `manage.py qcluster` process (the harness's) on this test's PostgreSQL database (not sync mode)."""
    if connection.vendor != "postgresql":
        pytest.skip("the cluster test needs PostgreSQL (set DATABASE_URL)")
    stack = ProcessStack(tmp_path / "processes")
    try:
        process = start_cluster(stack, process_env(settings))
        yield process
    finally:
        stack.stop_all()
        print((tmp_path / "processes" / "qcluster.log").read_text(errors="replace")[-4000:])


def poll_until(predicate, *, timeout: float = 30, interval: float = 0.05, what: str = "condition"):
    """The harness's wait_until with a test's failure: returns predicate()'s truthy value, or fails the test after
    `timeout` seconds."""
    try:
        return wait_until(predicate, timeout=timeout, interval=interval, what=what)
    except HarnessError as exc:
        failure = str(exc)
    pytest.fail(failure)


@pytest.fixture
def wait_for():
    """poll_until, for tests (conftest functions are not importable under importlib mode)."""
    return poll_until
