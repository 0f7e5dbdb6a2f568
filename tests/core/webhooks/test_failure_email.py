"""The failure email: what it says, that no secret in Prefect's state message reaches it, that it has a deadline,
and that it counts as sent only when the send returned.

An SMTP server that never greets is a real socket (standins/trickle.py, "silent"). Observed before: the handler
hung until Django-Q's timeout, whose SystemExit left the claim row behind, and the retry said "already emailed"
though nothing was sent.
"""

import datetime
import json
import signal
import time
import uuid

import pytest
from django.core import mail

from ddpui.core.flow_runs import FlowRunInfo
from ddpui.core.webhooks.failure_email import MAX_MESSAGE_CHARS, email_failure, failure_email_text
from ddpui.core.webhooks.handler import handle_notification
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import FailureEmail, Notification, PrefectFlowRun
from standins.trickle import TrickleServer

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
@pytest.fixture
def failed_run() -> FlowRunInfo:
    """A failed root run of a deployment."""
    return FlowRunInfo(id=str(uuid.uuid4()), name="nightly", deployment_id=str(uuid.uuid4()),
                       state_type="FAILED", state_name="Failed")


@pytest.fixture
def silent_smtp(settings):
    """EMAIL_BACKEND is SMTP, pointed at a server that accepts and never greets."""
    with TrickleServer("silent") as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        yield server


def test_a_silent_smtp_server_fails_the_step_within_email_timeout(silent_smtp, settings, failed_run, org, manager):
    settings.EMAIL_TIMEOUT = 1
    began = time.monotonic()
    with pytest.raises(OSError):  # socket.timeout / SMTPServerDisconnected
        email_failure(failed_run, org)
    assert time.monotonic() - began < 5
    assert not FailureEmail.objects.exists(), "not sent, so not claimed"


def test_email_timeout_is_set_and_shorter_than_the_task_timeout(settings):
    assert settings.EMAIL_TIMEOUT and settings.EMAIL_TIMEOUT < settings.Q_TIMEOUT_SECONDS


def test_a_send_cut_short_by_the_task_timeout_is_sent_by_the_retry(silent_smtp, settings, failed_run, org, manager):
    settings.EMAIL_TIMEOUT = 30

    def task_timeout(signum, frame):
        """What Django-Q's timeout does to the worker's task: a SystemExit wherever it is."""
        raise SystemExit("task timeout")

    previous = signal.signal(signal.SIGALRM, task_timeout)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(SystemExit):
            email_failure(failed_run, org)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not FailureEmail.objects.exists()
    # The retry, with mail working again, sends it; a second retry does not send it again.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert email_failure(failed_run, org) == "emailed 1 manager(s)"
    assert email_failure(failed_run, org) == "already emailed"
    assert len(mail.outbox) == 1 and FailureEmail.objects.count() == 1
