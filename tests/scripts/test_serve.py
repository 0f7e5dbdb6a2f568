"""The production web command, `scripts/serve.sh` (nginx in front of gunicorn), as real processes: errors are
JSON and plain (issue 11, item 5).

- the read API answers a JSON 503 when the database cannot be reached (the app is pointed at a closed port;
  the shared PostgreSQL server is never stopped);
- a chunked webhook body (no Content-Length) is read, and an oversized one is a 413, both through nginx and
  straight to gunicorn;
- nginx's own errors are JSON.
"""

import re
import uuid

import httpx
import pytest
from django.db import connection

from ddpui.models import Notification
from harness.app import AppConfig, app_env, start_web
from harness.processes import ProcessStack, free_port
from tests.conftest import WEBHOOK_KEY

WEBHOOK = "/webhooks/v1/notification/"
KEY = {"X-Notification-Key": WEBHOOK_KEY, "Content-Type": "application/json"}


def served(tmp_path, database_url: str):
    """Start the production command on `database_url`; (process, base URL, gunicorn's own URL, stack)."""
    config = AppConfig(database_url=database_url, prefect_api_url="http://127.0.0.1:9/api",
                       webhook_key=WEBHOOK_KEY, airbyte_port=9)
    stack = ProcessStack(tmp_path / "run")
    process, base_url = start_web(stack, app_env(config, str(tmp_path / "prefect-home")))
    backend = re.search(r"Listening at: (http://\S+) ", process.output_since_start()).group(1)
    return process, base_url, backend, stack


@pytest.fixture
def web(transactional_db, tmp_path):
    """Served on this test's database."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    database = connection.settings_dict
    url = f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    _, base_url, backend, stack = served(tmp_path, url)
    try:
        yield base_url, backend
    finally:
        stack.stop_all()


@pytest.fixture
def web_without_database(tmp_path):
    """Served with DATABASE_URL on a port nothing listens on."""
    _, base_url, _, stack = served(tmp_path, f"postgresql://postgres@127.0.0.1:{free_port()}/ddpui_nowhere")
    try:
        yield base_url
    finally:
        stack.stop_all()


def chunks(body: bytes, size: int = 4096):
    """The body as a generator: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def notification() -> bytes:
    """A genuine Dalgo text notification."""
    return f'{{"body": "Flow run nightly with id {uuid.uuid4()} entered state Failed"}}'.encode()


def test_the_read_api_answers_json_503_when_the_database_is_unreachable(web_without_database):
    for path in ("/api/v1/summaries", f"/api/v1/flow_runs/{uuid.uuid4()}/summary"):
        answer = httpx.get(web_without_database + path, headers={"Authorization": "Bearer ddp_any"}, timeout=30)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == {"detail": "database unavailable, try again"}
    answer = httpx.post(web_without_database + WEBHOOK, content=notification(), headers=KEY, timeout=30)
    assert answer.status_code == 503 and answer.json()["detail"].startswith("could not record")


@pytest.mark.parametrize("through", ["nginx", "gunicorn"])
def test_a_chunked_webhook_body_is_read_and_an_oversized_one_is_413(web, through):
    base_url = web[0] if through == "nginx" else web[1]
    answer = httpx.post(base_url + WEBHOOK, content=chunks(notification()), headers=KEY, timeout=30)
    assert answer.status_code == 200, answer.text
    assert Notification.objects.count() == 1
    too_big = b'{"body": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    answer = httpx.post(base_url + WEBHOOK, content=chunks(too_big), headers=KEY, timeout=30)
    assert answer.status_code == 413 and answer.json()["detail"]  # nginx's JSON or the app's
    assert Notification.objects.count() == 1


def test_nginx_refuses_a_body_over_the_limit_with_json(web):
    for declared in (True, False):
        body = b"x" * (1024 * 1024 + 1)
        answer = httpx.post(web[0] + WEBHOOK, content=body if declared else chunks(body), headers=KEY, timeout=30)
        assert answer.status_code == 413 and answer.json() == {"detail": "body too large"}
