"""The e2e stack, once per session: a real Prefect server and flow runner, gunicorn, a qcluster.

Database: the app's processes and this test process must see the same committed rows, so the suite does not use
pytest-django's test database (rolled back per test, SQLite when DATABASE_URL is unset, and shared with the
other tests). It makes its own PostgreSQL database, E2E_DATABASE_URL (default: ddpui_e2e_harness on DATABASE_URL's
server), afresh each session with the project's `manage.py migrate`, and reads it here through an extra
connection alias, "e2e".
"""

import os
from pathlib import Path

import dj_database_url
import pytest
from django.db import connections

from harness.database import database_name, own_database_url
from harness.prefect_venv import PrefectVenvUnavailable
from harness.stack import DalgoStack, start_stack

# Not "test_<name>": that is pytest-django's own test database for DATABASE_URL=<name>, dropped and recreated
# by it; sharing it would drop one under the other.
E2E_DATABASE_NAME = "ddpui_e2e_harness"


def e2e_database_url() -> str:
    """E2E_DATABASE_URL, else DATABASE_URL's PostgreSQL server (or the local one) with our own database name."""
    return own_database_url(E2E_DATABASE_NAME, override_env="E2E_DATABASE_URL")


E2E_DATABASE_URL = e2e_database_url()
ALIAS = "e2e"
RUN_DIR_ENV = "E2E_RUN_DIR"

# Shared with the report hooks below: a failing test shows the processes' log tails; tests add timing lines
# to their stack's `notes`, printed in the terminal summary.
running_stacks: list[DalgoStack] = []
timing_lines: list[str] = []


def register_alias(url: str, alias: str = ALIAS) -> None:
    """Make `url` reachable from this process's ORM as `.using(alias)` (one alias per stack: tests/contract runs
    its own stack in the same session)."""
    configured = connections.configure_settings({"default": {}, alias: dj_database_url.parse(url, conn_max_age=0)})
    connections.settings[alias] = configured[alias]


@pytest.fixture(autouse=True)
def e2e_db_access(django_db_blocker):
    """E2E tests read the e2e database directly (committed rows written by other processes)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory, django_db_blocker) -> DalgoStack:
    """Everything started and Prefect configured with `setup_prefect_webhook`; stopped at session end."""
    default_name = connections["default"].settings_dict["NAME"]
    if database_name(E2E_DATABASE_URL) in (default_name, f"test_{default_name}"):
        pytest.fail(f"E2E_DATABASE_URL names the database the other tests use ({default_name}): choose another")
    run_dir = Path(os.environ.get(RUN_DIR_ENV) or tmp_path_factory.mktemp("e2e-run"))
    try:
        stack = start_stack(run_dir, database_url=E2E_DATABASE_URL, fresh_database=True)
    except PrefectVenvUnavailable as exc:
        pytest.skip(f"e2e skipped: the prefect virtualenv cannot be built here (no network to PyPI?): {exc}")
    running_stacks.append(stack)
    register_alias(E2E_DATABASE_URL)
    try:
        yield stack
    finally:
        with django_db_blocker.unblock():
            connections[ALIAS].close()
        stack.stop()
        running_stacks.remove(stack)
        timing_lines.extend(stack.notes)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On an e2e failure, attach every process's log tail to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and running_stacks:
        report.sections.append(("e2e process logs", running_stacks[-1].describe()))


def pytest_terminal_summary(terminalreporter):
    """Print the measured timings (also without -s)."""
    if timing_lines:
        terminalreporter.section("e2e timings: flow run end -> stored summary")
        for line in timing_lines:
            terminalreporter.write_line(line)
