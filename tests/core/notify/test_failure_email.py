"""The failure email: what it says, that no secret in Prefect's state message reaches it, that it has a deadline,
and that it counts as sent only when the send returned.

An SMTP server that never greets is a real socket (standins/trickle.py, "silent"). Observed before: the handler
hung until Django-Q's timeout, whose SystemExit left the claim row behind, and the retry said "already emailed"
though nothing was sent. Now the send is its own delivery row, claimed with a lease: a send cut short is sent by
the sweep after the lease, and never counted sent before it returned.
"""

import datetime
import json
import signal
import time
import uuid

import pytest
from django.core import mail
from django.utils import timezone

from ddpui.core.notify.deliveries import OPEN, deliver, send_due_deliveries
from ddpui.core.notify.text import failure_message
from ddpui.core.webhooks.handler import handle_notification
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import DeliveryStatus, FailureDelivery, Notification, PrefectFlowRun
from standins.trickle import TrickleServer

pytestmark = pytest.mark.django_db
MAX_MESSAGE_CHARS = 300  # what the message quotes of Prefect's state message


def deliver_open() -> list[str]:
    """Send every open delivery now (not waiting for the summary)."""
    return [deliver(pk) for pk in FailureDelivery.objects.filter(status__in=OPEN).values_list("pk", flat=True)]


def test_the_message_is_redacted_before_it_is_cut(org):
    # a cut used to fall between the password and "@", so the URL rule no longer matched
    message = "x" * (MAX_MESSAGE_CHARS - 30) + " postgresql://dalgo:TruncPw404@db.ngo.org:5432/crm failed"
    delivery = FailureDelivery(org=org, flow_run_id=str(uuid.uuid4()), flow_run_name="crimson-owl",
                               state_name="Failed", state_message=message, channel="email",
                               wait_until=timezone.now())
    body = failure_message(delivery, None, org.name).body
    assert "TruncPw404" not in body and "Prefect says: " in body


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
    deliver_open()

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert "[REDACTED:" in email.body or len(text) > MAX_MESSAGE_CHARS
    stored = json.dumps([list(Notification.objects.values()), list(PrefectFlowRun.objects.values()),
                         list(FailureDelivery.objects.values())], default=str)
    for secret in secrets:
        assert secret not in email.subject and secret not in email.body
        assert secret not in stored


@pytest.fixture
def planned(org, manager) -> FailureDelivery:
    """A failure email planned for a failed root run of a deployment of `org`."""
    return FailureDelivery.objects.create(org=org, flow_run_id=str(uuid.uuid4()), flow_run_name="nightly",
                                          state_name="Failed", channel="email", wait_until=timezone.now(),
                                          next_attempt_at=timezone.now())


@pytest.fixture
def silent_smtp(settings):
    """EMAIL_BACKEND is SMTP, pointed at a server that accepts and never greets."""
    with TrickleServer("silent") as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        yield server


def test_a_silent_smtp_server_fails_the_send_within_email_timeout(silent_smtp, settings, planned):
    settings.EMAIL_TIMEOUT = 1
    began = time.monotonic()
    outcome = deliver(planned.pk)
    assert time.monotonic() - began < 5
    planned.refresh_from_db()
    assert outcome.startswith("retrying") and planned.status == DeliveryStatus.RETRYING, "not sent, so not counted"
    assert planned.sent_at is None and planned.next_attempt_at > timezone.now()


def test_email_timeout_is_set_and_shorter_than_the_task_timeout(settings):
    assert settings.EMAIL_TIMEOUT and settings.EMAIL_TIMEOUT < settings.Q_TIMEOUT_SECONDS


def test_a_send_cut_short_by_the_task_timeout_is_sent_by_the_sweep(silent_smtp, settings, planned):
    settings.EMAIL_TIMEOUT = 30

    def task_timeout(signum, frame):
        """What Django-Q's timeout does to the worker's task: a SystemExit wherever it is."""
        raise SystemExit("task timeout")

    previous = signal.signal(signal.SIGALRM, task_timeout)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(SystemExit):
            deliver(planned.pk)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    planned.refresh_from_db()
    assert planned.status == DeliveryStatus.WAITING and planned.sent_at is None, "not counted sent"
    # The lease runs out; the sweep queues it again; with mail working again it is sent, and only once.
    FailureDelivery.objects.filter(pk=planned.pk).update(lease_until=timezone.now() - datetime.timedelta(seconds=1),
                                                         next_attempt_at=timezone.now())
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_due_deliveries() == 1
    assert deliver(planned.pk) == "sent email without the summary"
    assert deliver(planned.pk) == "not due or held by another worker"
    assert len(mail.outbox) == 1
