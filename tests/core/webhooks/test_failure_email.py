"""The failure email: what it says, and that no secret in Prefect's state message reaches it."""

import datetime
import json
import uuid

import pytest
from django.core import mail

from ddpui.core.flow_runs import FlowRunInfo
from ddpui.core.webhooks.failure_email import MAX_MESSAGE_CHARS, failure_email_text
from ddpui.core.webhooks.handler import handle_notification
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import Notification, PrefectFlowRun

pytestmark = pytest.mark.django_db


def test_the_message_is_redacted_before_it_is_cut(org):
    # a cut at 500 characters used to fall between the password and "@", so the URL rule no longer matched
    message = "x" * (MAX_MESSAGE_CHARS - 30) + " postgresql://dalgo:TruncPw404@db.ngo.org:5432/crm failed"
    info = FlowRunInfo(id=str(uuid.uuid4()), name="crimson-owl", state_name="Failed", state_message=message)
    _, body = failure_email_text(info, org)
    assert "TruncPw404" not in body and "Message: " in body


def test_no_passed_through_secret_reaches_the_email_or_the_rows(passed_through_entry, prefect_api, airbyte_api,
                                                               make_dataflow, manager):
    text, secrets = passed_through_entry
    dataflow, parameters = make_dataflow([str(uuid.uuid4())])
    run = prefect_api.add_flow_run(
        name="crimson-owl", deployment_id=dataflow.deployment_id, parameters=parameters, state_type="FAILED",
        state_name="Failed", message=f"Flow run encountered an exception: {text}",
        start_time=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=3),
    )
    notification, _ = record_notification(ParsedNotification(
        flow_run_id=run["id"], state_name="Failed", state_type="FAILED", body_format="json",
        flow_run_name=run["name"], payload={"state_message": f"Flow run encountered an exception: {text}"},
    ))

    handle_notification(notification.id)

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert "[REDACTED:" in email.body or len(text) > MAX_MESSAGE_CHARS
    stored = json.dumps([list(Notification.objects.values()), list(PrefectFlowRun.objects.values())], default=str)
    for secret in secrets:
        assert secret not in email.subject and secret not in email.body
        assert secret not in stored
