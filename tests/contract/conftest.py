"""The contract suite's stack: the e2e harness (real Prefect server and flow runner, nginx + gunicorn, a qcluster,
the Airbyte stand-in) with the frontends' origin allowed by CORS, on its own database, and one failed Airbyte
sync run whose summary is stored before the frontends click.

Its own database (not the e2e suite's): both suites may run in one session, each with its own stack.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections

from ddpui.models import Org
from harness.app import run_manage
from harness.database import database_name, own_database_url
from harness.prefect_venv import PrefectVenvUnavailable
from harness.scenarios import ScenarioRun, finish_scenario, second_sync_fails, start_scenario
from harness.stack import DalgoStack, start_stack
from tests.e2e.conftest import RUN_DIR_ENV, register_alias

# Not the e2e suite's alias: both stacks may live in one session, each reached through its own connection.
ALIAS = "contract"
CONTRACT_DATABASE_URL = own_database_url("ddpui_contract_harness", override_env="CONTRACT_DATABASE_URL")
# Where the frontends are served from (Dalgo's FRONTEND_URL and FRONTEND_URL_V2).
WEBAPP_ORIGIN = "http://localhost:3000"
WEBAPP_V2_ORIGIN = "http://localhost:3001"
ORG_NAME, ORG_SLUG = "Contract NGO", "contract-ngo"
EMAIL, PASSWORD = "analyst@contract.test", "contract-password-7c2d"
# One line per frontend flow (requests made, seconds to completed, polls), printed at the end of the session.
CONTRACT_RESULTS: list[str] = []


@dataclass
class ContractWorld:
    """The running stack, the org's login, and its failed run (summary stored) with the Airbyte facts."""

    stack: DalgoStack
    run: ScenarioRun
    results: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """nginx in front of gunicorn."""
        return self.stack.web_url


@pytest.fixture(autouse=True)
def contract_db_access(django_db_blocker):
    """The suite reads the stack's database directly (rows committed by the app's processes)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="session")
def contract_world(tmp_path_factory, django_db_blocker) -> ContractWorld:
    """Start the stack, make the org and its user with the project's `create_org`, run a pipeline whose second
    Airbyte sync fails, and wait for its stored summary."""
    default_name = connections["default"].settings_dict["NAME"]
    if database_name(CONTRACT_DATABASE_URL) in (default_name, f"test_{default_name}"):
        pytest.fail(f"CONTRACT_DATABASE_URL names the database the other tests use ({default_name})")
    run_dir = Path(os.environ.get(RUN_DIR_ENV) or tmp_path_factory.mktemp("contract-run"))
    settings = {
        "FRONTEND_URL": WEBAPP_ORIGIN,
        "FRONTEND_URL_V2": WEBAPP_V2_ORIGIN,
        # Both sign alike: the suite mints an expired access token the app must answer 498.
        "JWT_SECRET_KEY": django_settings.SIMPLE_JWT["SIGNING_KEY"],
    }
    try:
        stack = start_stack(run_dir, database_url=CONTRACT_DATABASE_URL, fresh_database=True, settings=settings)
    except PrefectVenvUnavailable as exc:
        pytest.skip(f"contract suite skipped: the prefect virtualenv cannot be built here: {exc}")
    register_alias(CONTRACT_DATABASE_URL, ALIAS)
    try:
        with django_db_blocker.unblock():
            run_manage(stack.env, "create_org", "--name", ORG_NAME, "--email", EMAIL, "--slug", ORG_SLUG,
                       "--password", PASSWORD)
            org = Org.objects.using(ALIAS).get(slug=ORG_SLUG)
            run = start_scenario(stack, org, second_sync_fails(stack.airbyte), using=ALIAS)
            finish_scenario(stack, run, using=ALIAS)
        world = ContractWorld(stack=stack, run=run)
        yield world
        CONTRACT_RESULTS.extend(world.results)
    finally:
        with django_db_blocker.unblock():
            connections[ALIAS].close()
        stack.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, the processes' log tails (the app's answer alone rarely says why)."""
    outcome = yield
    report = outcome.get_result()
    world = item.funcargs.get("contract_world") if hasattr(item, "funcargs") else None
    if report.failed and world is not None:
        report.sections.append(("contract stack logs", world.stack.describe()))


def pytest_terminal_summary(terminalreporter):
    """The per-frontend result lines (also without -s)."""
    if CONTRACT_RESULTS:
        terminalreporter.section("contract: Dalgo's frontends against the running app")
        for line in CONTRACT_RESULTS:
            terminalreporter.write_line(line)
