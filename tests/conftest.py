"""Shared fixtures: an org with a manager and a token, webhook settings, and Dalgo-shaped parameters."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from model_bakery import baker

from ddpui.core.tokens import issue_token
from ddpui.models import Org, OrgDataFlow, OrgTask, OrgUser, OrgUserRole
from standins.airbyte_api import AirbyteStandin
from standins.llm_api import LlmStandin
from standins.prefect_api import PrefectStandin

WEBHOOK_KEY = "test-webhook-key-3f9a"


@pytest.fixture
def webhook_key(settings):
    """The webhook key set in settings; returned for the X-Notification-Key header."""
    settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY = WEBHOOK_KEY
    return WEBHOOK_KEY


@pytest.fixture
def org(db) -> Org:
    """An org with slug `ngo-one`."""
    return baker.make(Org, name="NGO One", slug="ngo-one")


@pytest.fixture
def manager(org) -> OrgUser:
    """A manager of `org` with an email address."""
    user = get_user_model().objects.create(username="manager@ngo.test", email="manager@ngo.test")
    return OrgUser.objects.create(user=user, org=org, role=OrgUserRole.ACCOUNT_MANAGER)


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
    settings.LOG_SETTLE_INTERVAL_SECONDS = 0.05
    settings.LOG_SETTLE_MAX_SECONDS = 0.5
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


@pytest.fixture(autouse=True)
def offline_llm_by_default(settings):
    """Tests use the offline summarizer unless they ask for the llm_api fixture."""
    settings.OPENAI_API_KEY = ""
