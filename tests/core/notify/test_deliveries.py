"""Failure notifications that explain: the email (to a local SMTP sink) and the Discord message (to a local
Discord-shaped server) carry the stored summary, once per channel whatever the retries and duplicates; a channel
that is down is retried with backoff and holds no other."""

import datetime

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from ddpui.core.notify.deliveries import DELIVER_TASK, DELIVERY_LEASE_SECONDS, deliver, send_due_deliveries
from ddpui.core.queueing.leases import claim
from ddpui.core.summaries.pipeline import summarize_flow_run
from ddpui.core.webhooks.handler import handle_notification
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import DeliveryStatus, FailureDelivery, LlmSession

pytestmark = pytest.mark.django_db

SECRETS = ["S3cretPassw0rd"]


def notify(run: dict, **extra) -> None:
    """Record and handle a Failed notification of the run (the handler's steps, in order)."""
    notification, _ = record_notification(ParsedNotification(
        flow_run_id=run["id"], state_name="Failed", state_type="", body_format="text", flow_run_name=run["name"],
        **extra))
    handle_notification(notification.id)


def run_queued_deliveries() -> list[str]:
    """Run the queued delivery tasks as the cluster would; returns their outcomes."""
    outcomes = []
    for row in OrmQ.objects.all():
        if row.task["func"] == DELIVER_TASK:
            outcomes.append(deliver(*row.task["args"]))
            row.delete()
    return outcomes


@pytest.fixture
def failed_run(dalgo_runs):
    """A failed pipeline run whose dbt step failed on a missing column (its log holds a password)."""
    run, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run)
    return run


def test_email_and_discord_carry_the_summary_once_it_is_stored(failed_run, smtp_sink, discord_api, settings):
    settings.SUMMARY_PAGE_BASE_URL = "https://dalgo.example"
    notify(failed_run)
    assert smtp_sink.messages == [] and discord_api.messages() == [], "nothing goes out before the summary"
    assert Schedule.objects.filter(func="tasks.notify.send_due_deliveries", schedule_type=Schedule.ONCE).exists()
    session = summarize_flow_run(failed_run["id"])  # stores the summary: the waiting deliveries are queued
    assert sorted(run_queued_deliveries()) == ["sent discord with the summary", "sent email with the summary"]

    [email] = smtp_sink.messages
    body = smtp_sink.bodies()[0]
    assert email["To"] == "manager@ngo.test" and session.title[:60] in email["Subject"]
    assert f"What went wrong: {session.title}" in body and session.root_cause[:40] in body
    assert "How to fix it:\n1. " in body and f"2. {session.fix_steps[1]}" in body
    assert "From the log:\n  line " in body and body.count("  line ") <= 3
    assert "Will a re-run help?" in body and "offline rules" in body
    assert f"https://dalgo.example/summaries/{session.public_id}/" in body
    [content] = discord_api.messages()
    assert session.title in content and "How to fix it:" in content and str(session.public_id) in content
    assert "Traceback" not in body + content and not any(secret in body + content for secret in SECRETS)
    assert FailureDelivery.objects.filter(status=DeliveryStatus.SENT, summary=session).count() == 2


def test_without_a_summary_in_time_the_message_goes_out_saying_where_it_will_be(failed_run, smtp_sink, settings):
    settings.NOTIFY_WAIT_FOR_SUMMARY_SECONDS = 0
    notify(failed_run)
    assert send_due_deliveries() == 1  # what the one-off schedule (or the sweep) runs when the wait is over
    assert run_queued_deliveries() == ["sent email without the summary"]
    body = smtp_sink.bodies()[0]
    assert "was not ready yet; it will be on this page" in body
    assert f"/summaries/run/{failed_run['id']}/" in body


def test_each_failure_is_told_once_per_channel_whatever_the_duplicates(failed_run, smtp_sink, discord_api):
    notify(failed_run)
    notify(failed_run, event_id="0b9f6a52-7a8b-4d38-9b7e-3c1d1a0e9a11")  # the same failure, the other body style
    session = summarize_flow_run(failed_run["id"])
    summarize_flow_run(failed_run["id"], regenerate=True)
    run_queued_deliveries()
    for delivery in FailureDelivery.objects.all():  # a duplicate task of each, and the sweep
        assert deliver(delivery.pk) == "not due or held by another worker"
    assert send_due_deliveries() == 0
    assert len(smtp_sink.messages) == 1 and len(discord_api.messages()) == 1 and session


def test_a_channel_that_is_down_is_retried_with_backoff_and_blocks_no_other(failed_run, smtp_sink, discord_api):
    discord_api.add_fault("*", status=503, times=1)
    notify(failed_run)
    summarize_flow_run(failed_run["id"])
    outcomes = run_queued_deliveries()
    assert "sent email with the summary" in outcomes and len(smtp_sink.messages) == 1
    down = FailureDelivery.objects.get(channel="discord")
    assert down.status == DeliveryStatus.RETRYING and down.attempts == 1 and "503" in down.last_error
    assert down.next_attempt_at > timezone.now() + datetime.timedelta(seconds=20), "backoff, not a hot loop"
    assert send_due_deliveries() == 0, "not due before its backoff"
    FailureDelivery.objects.filter(pk=down.pk).update(next_attempt_at=timezone.now())
    assert send_due_deliveries() == 1 and run_queued_deliveries() == ["sent discord with the summary"]
    assert len(discord_api.messages()) == 1 and len(smtp_sink.messages) == 1


def test_smtp_down_retries_the_email_only(failed_run, smtp_sink, discord_api):
    smtp_sink.fail_next(1)
    notify(failed_run)
    summarize_flow_run(failed_run["id"])
    run_queued_deliveries()
    assert FailureDelivery.objects.get(channel="email").status == DeliveryStatus.RETRYING
    assert FailureDelivery.objects.get(channel="discord").status == DeliveryStatus.SENT


def test_a_worker_that_died_mid_send_leaves_a_row_the_sweep_sends_after_its_lease(failed_run, smtp_sink):
    notify(failed_run)
    delivery = FailureDelivery.objects.get()
    assert claim(FailureDelivery, delivery.pk, seconds=DELIVERY_LEASE_SECONDS, retry_field="next_attempt_at")
    assert send_due_deliveries() == 0, "held by the (dead) worker"
    FailureDelivery.objects.filter(pk=delivery.pk).update(
        lease_until=timezone.now() - datetime.timedelta(seconds=1), next_attempt_at=timezone.now())
    assert send_due_deliveries() == 1 and run_queued_deliveries() == ["sent email without the summary"]


def test_a_recurring_failure_says_same_failure_as_run_x_on_date(dalgo_runs, smtp_sink):
    first, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(first)
    earlier = summarize_flow_run(first["id"])
    second, _ = dalgo_runs.pipeline(connections=0, name="amber-fox")
    dalgo_runs.dbt_task(second)
    notify(second)
    later = summarize_flow_run(second["id"])
    run_queued_deliveries()
    assert later.reused_from_id == earlier.pk or LlmSession.objects.get(pk=later.pk).fingerprint == earlier.fingerprint
    assert f"Same failure as run {first['id']} on {earlier.created_at.date().isoformat()}." in smtp_sink.bodies()[0]
