"""POST /webhooks/v1/notification/: key, size, shape, dedupe, and the queue row written with the notification."""

import json
import uuid

import pytest
from django_q.models import OrmQ

from ddpui.models import Notification

URL = "/webhooks/v1/notification/"


def post(client, data, key=None, **extra):
    """POST a body (dict -> JSON, bytes as is) with an optional key header."""
    payload = data if isinstance(data, (bytes, str)) else json.dumps(data)
    headers = {"HTTP_X_NOTIFICATION_KEY": key} if key is not None else {}
    return client.post(URL, data=payload, content_type="application/json", **headers, **extra)


def text_body(run_id=None, state="Failed", name="crimson-owl"):
    """Dalgo's custom-webhook body."""
    return {"body": f"Flow run {name} with id {run_id or uuid.uuid4()} entered state {state}"}


@pytest.mark.django_db
def test_missing_or_wrong_key_is_401_and_records_nothing(client, webhook_key):
    assert post(client, text_body()).status_code == 401
    assert post(client, text_body(), key="wrong").status_code == 401
    assert post(client, text_body(), key=webhook_key[:-1]).status_code == 401
    assert Notification.objects.count() == 0 and OrmQ.objects.count() == 0


@pytest.mark.django_db
def test_unset_key_refuses_everything(client, settings):
    settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY = ""
    assert post(client, text_body(), key="").status_code == 401
    assert post(client, text_body()).status_code == 401
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_body_over_one_megabyte_is_413(client, webhook_key):
    huge = json.dumps({"body": "x" * (1024 * 1024)})
    response = post(client, huge, key=webhook_key)
    assert response.status_code == 413
    assert Notification.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"body": 3}', b'{"body": "hello"}', b"\xff\xfe", b""])
def test_malformed_body_is_400_with_a_reason(client, webhook_key, raw):
    response = post(client, raw, key=webhook_key)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert Notification.objects.count() == 0 and OrmQ.objects.count() == 0


@pytest.mark.django_db
def test_text_body_is_recorded_and_its_handler_queued(client, webhook_key):
    run_id = str(uuid.uuid4())
    response = post(client, text_body(run_id, name="nightly run v1.2"), key=webhook_key)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    notification = Notification.objects.get()
    assert (notification.flow_run_id, notification.state_name, notification.flow_run_name) == (
        run_id, "Failed", "nightly run v1.2")
    queued = OrmQ.objects.get()
    assert queued.task["func"] == "tasks.webhooks.handle_notification"
    assert queued.task["args"] == (notification.id,)


@pytest.mark.django_db
def test_automation_body_is_recorded_with_its_event_id(client, webhook_key):
    event_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = {"event_id": event_id, "flow_run_id": run_id, "state_name": "Crashed", "state_type": "CRASHED",
            "flow_run_name": "r", "parent_task_run_id": None, "parameters": {"config": {"org_slug": "x"}}}
    assert post(client, body, key=webhook_key).status_code == 200
    notification = Notification.objects.get()
    assert notification.event_id == event_id and notification.dedupe_key == f"event:{event_id}"


@pytest.mark.django_db
def test_repeated_delivery_is_recorded_and_queued_once(client, webhook_key):
    run_id = str(uuid.uuid4())
    for _ in range(4):  # Prefect's custom webhook retries blindly: 4 identical posts
        assert post(client, text_body(run_id), key=webhook_key).json() == {"status": "ok"}
    post(client, text_body(run_id, state="Running"), key=webhook_key)
    assert Notification.objects.count() == 2
    assert OrmQ.objects.count() == 2


@pytest.mark.django_db
def test_secrets_in_the_body_are_stored_redacted(client, webhook_key):
    body = {"flow_run_id": str(uuid.uuid4()), "state_name": "Failed",
            "parameters": {"config": {"tasks": [{"env": {"DBT_PASSWORD": "hunter2-secret-pw"}}]}}}
    post(client, body, key=webhook_key)
    assert "hunter2-secret-pw" not in json.dumps(Notification.objects.get().payload)


@pytest.mark.django_db
def test_the_webhook_makes_no_network_call(client, webhook_key, prefect_api, airbyte_api):
    post(client, text_body(), key=webhook_key)
    assert prefect_api.request_count == 0 and airbyte_api.request_count == 0
