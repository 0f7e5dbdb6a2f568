"""Slow clients cannot starve the webhook (issue 11, item 2): with 50 clients dribbling their headers or bodies
one byte at a time, a genuine notification is still answered within 1 s (Prefect gives up after about 5 s).

Observed before, with gunicorn's two sync workers facing the clients directly: two slow-header connections
held both workers and a genuine notification took 33 s. The app is served by the production command
(`scripts/serve.sh`: nginx buffering in front of gunicorn), started by the harness as real processes.
"""

import time
import uuid

import httpx
import pytest
from django.db import connection

from ddpui.models import Notification
from harness.app import AppConfig, app_env, start_web
from harness.processes import ProcessStack
from harness.slow_clients import SlowClients
from tests.conftest import WEBHOOK_KEY

SLOW_CLIENTS = 50
GENUINE = 10


@pytest.fixture
def web(transactional_db, tmp_path):
    """The app as in production, two sync gunicorn workers behind nginx, on this test's database."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    database = connection.settings_dict
    config = AppConfig(
        database_url=f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        prefect_api_url="http://127.0.0.1:9/api", webhook_key=WEBHOOK_KEY, airbyte_port=9,
    )
    stack = ProcessStack(tmp_path / "run")
    try:
        _, base_url = start_web(stack, app_env(config, str(tmp_path / "prefect-home")))
        yield base_url
    finally:
        stack.stop_all()


def test_the_webhook_answers_within_a_second_while_50_slow_clients_are_connected(web):
    seconds = []
    with SlowClients(web, SLOW_CLIENTS, interval=0.5) as slow:
        time.sleep(1.5)  # every slow client is connected and has sent part of its request
        with httpx.Client(base_url=web, timeout=10) as client:
            for _ in range(GENUINE):
                body = {"body": f"Flow run nightly with id {uuid.uuid4()} entered state Failed"}
                began = time.monotonic()
                answer = client.post("/webhooks/v1/notification/", json=body,
                                     headers={"X-Notification-Key": WEBHOOK_KEY})
                seconds.append(time.monotonic() - began)
                assert answer.status_code == 200, answer.text
        # The slow clients were served nothing and dropped by no one: they were merely kept waiting by nginx.
        assert slow.still_connected() == SLOW_CLIENTS
    assert max(seconds) < 1.0, seconds
    assert Notification.objects.count() == GENUINE
