"""Failure deliveries: each failure is told once per channel (email, Discord), with its summary when it is stored
within NOTIFY_WAIT_FOR_SUMMARY_SECONDS, else without it. No worker waits:

1. the handler's email step plans one FailureDelivery row per channel (unique key: run, state, attempt, channel)
   due at the end of the wait, and schedules a sweep for that moment;
2. when the summary is stored, the run's waiting rows become due and are queued at once;
3. each row is sent by its own task, claimed by a conditional UPDATE (two workers never both send), counted
   sent only once the send returned; a channel that is down is retried with backoff and blocks no other row.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ddpui.clients.discord import DiscordError, post_message
from ddpui.core.auth.orgs import manager_emails
from ddpui.core.flow_runs import FlowRunInfo
from ddpui.core.notify.text import discord_content, email_body, failure_message, plain
from ddpui.core.org_settings.preferences import preferences_of
from ddpui.core.queueing.enqueue import enqueue, schedule_once
from ddpui.core.queueing.leases import backoff, claim
from ddpui.models import (
    Channel,
    DeliveryStatus,
    FailureDelivery,
    LlmSession,
    Org,
    OrgDataFlow,
    SummaryStatus,
)

logger = logging.getLogger(__name__)

DELIVER_TASK = "tasks.notify.deliver_failure"
SWEEP_TASK = "tasks.notify.send_due_deliveries"
# Longer than any send (SMTP or Discord timeouts), short enough that a dead worker's row is retried soon.
DELIVERY_LEASE_SECONDS = 120
OPEN = (DeliveryStatus.WAITING, DeliveryStatus.RETRYING)
BATCH = 100


def channels_of(org: Org) -> list[str]:
    """The channels this org is told on: email when it has managers with an address, Discord when enabled."""
    channels = [Channel.EMAIL] if manager_emails(org) else []
    preferences = preferences_of(org)
    if preferences.enable_discord_notifications and preferences.discord_webhook:
        channels.append(Channel.DISCORD)
    return channels


def stored_summary(org_id: int, flow_run_id: str) -> LlmSession | None:
    """The run's automatic summary, if it is ready."""
    return (
        LlmSession.objects.filter(org_id=org_id, flow_run_id=flow_run_id, trigger="failure", status=SummaryStatus.READY)
        .order_by("created_at")
        .first()
    )


def plan_failure_notices(info: FlowRunInfo, org: Org | None) -> str:
    """Step 3 of the handler: on Failed/Crashed/TimedOut of a deployment run, plan one delivery per channel."""
    if not info.is_failure or not info.deployment_id or not info.is_root:
        return "not a failed deployment run: no email"
    if org is None:
        return "org unknown: no email"
    channels = channels_of(org)
    if not channels:
        return "org has no managers with an email address"
    now = timezone.now()
    wait_until = now + timedelta(seconds=settings.NOTIFY_WAIT_FOR_SUMMARY_SECONDS)
    pipeline = OrgDataFlow.objects.filter(deployment_id=info.deployment_id).values_list("name", flat=True).first()
    planned = []
    for channel in channels:
        try:
            with transaction.atomic():
                FailureDelivery.objects.create(
                    org=org, flow_run_id=info.id, flow_run_name=info.name, pipeline_name=pipeline or "",
                    state_name=info.state_name, state_message=plain(info.state_message, 500),
                    run_count=info.run_count, end_time=info.end_time, channel=channel,
                    wait_until=wait_until, next_attempt_at=wait_until,
                )
            planned.append(channel)
        except IntegrityError:
            continue  # this failure is told on this channel already (a retry, a duplicate, the other body style)
    if not planned:
        return "already emailed"
    # The whichever-first of "summary stored" and "wait over": the summary may already be there (a retried step).
    session = stored_summary(org.pk, info.id)
    if session is not None:
        summary_stored(session)
    else:
        schedule_once(SWEEP_TASK, at=wait_until, name=f"notify-{info.id}-{info.state_name}-{info.run_count}")
    return f"failure notice planned: {', '.join(planned)}"


def summary_stored(session: LlmSession) -> int:
    """The run's summary is stored: its waiting deliveries are due now. Returns how many were queued."""
    if session.trigger != "failure" or not session.flow_run_id:
        return 0
    waiting = FailureDelivery.objects.filter(
        org_id=session.org_id, flow_run_id=session.flow_run_id, status=DeliveryStatus.WAITING
    ).unleased()
    return queue_deliveries(list(waiting.values_list("pk", flat=True)))


def queue_deliveries(ids: list[int]) -> int:
    """One task per delivery, so a slow or down channel holds no other; the row is not re-queued by the sweep
    unless this try is lost (then after a lease)."""
    if ids:
        FailureDelivery.objects.filter(pk__in=ids).update(
            next_attempt_at=timezone.now() + timedelta(seconds=DELIVERY_LEASE_SECONDS)
        )
    for delivery_id in ids:
        enqueue(DELIVER_TASK, delivery_id, task_name=f"deliver-failure-{delivery_id}")
    return len(ids)


def send_due_deliveries() -> int:
    """Queue every delivery whose wait or backoff is over; end those that used all their tries."""
    due = FailureDelivery.objects.filter(status__in=OPEN).due()
    exhausted = due.filter(attempts__gte=settings.NOTIFY_MAX_ATTEMPTS)
    exhausted.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    return queue_deliveries(list(due.filter(attempts__lt=settings.NOTIFY_MAX_ATTEMPTS).values_list("pk", flat=True)[:BATCH]))


def send(delivery: FailureDelivery, subject: str, body: str) -> int:
    """Send on the delivery's channel; returns the number of recipients. Raises when the channel failed."""
    if delivery.channel == Channel.EMAIL:
        recipients = manager_emails(delivery.org)
        if not recipients:
            raise RuntimeError("the org has no managers with an email address")
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
        return len(recipients)
    preferences = preferences_of(delivery.org)
    if not (preferences.enable_discord_notifications and preferences.discord_webhook):
        raise RuntimeError("Discord notifications were turned off")
    post_message(preferences.discord_webhook, body)
    return 1


def deliver(delivery_id: int) -> str:
    """Claim one delivery and send it, with the summary when it is stored. Sent only once the send returned."""
    if not claim(FailureDelivery, delivery_id, seconds=DELIVERY_LEASE_SECONDS,
                 extra=_open_q(), retry_field="next_attempt_at", count_field="attempts"):
        return "not due or held by another worker"
    delivery = FailureDelivery.objects.select_related("org").get(pk=delivery_id)
    session = stored_summary(delivery.org_id, delivery.flow_run_id)
    message = failure_message(delivery, session, delivery.org.name)
    body = email_body(message) if delivery.channel == Channel.EMAIL else discord_content(message)
    try:
        recipients = send(delivery, message.subject, body)
    except Exception as exc:  # any channel error: this row retries with backoff, others go on
        logger.warning("delivery %s (%s) failed: %s", delivery.pk, delivery.channel, type(exc).__name__)
        return record_send_failure(delivery, exc)
    FailureDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), summary=session, subject=message.subject, text=body,
        recipients=recipients, last_error="", next_attempt_at=None, lease_until=None,
    )
    return f"sent {delivery.channel}{' with the summary' if session else ' without the summary'}"


def _open_q():
    """The claim's condition: the row still needs sending."""
    return Q(status__in=OPEN)


def record_send_failure(delivery: FailureDelivery, exc: Exception) -> str:
    """Retry the channel later with backoff (Discord's Retry-After respected), or give up after the limit."""
    error = plain(f"{type(exc).__name__}: {exc}", 1000)
    if delivery.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        status, next_at = DeliveryStatus.FAILED, None
    else:
        retry_after = exc.retry_after if isinstance(exc, DiscordError) else None
        status = DeliveryStatus.RETRYING
        next_at = timezone.now() + backoff(delivery.attempts, base=settings.NOTIFY_RETRY_BASE_SECONDS,
                                           retry_after=retry_after)
    FailureDelivery.objects.filter(pk=delivery.pk).update(
        status=status, next_attempt_at=next_at, last_error=error, lease_until=None
    )
    return f"{status}: {error}"


def resend(delivery: FailureDelivery) -> None:
    """An operator's "send again": the row is open again and queued now (its summary, if any, goes with it)."""
    FailureDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.RETRYING, attempts=0, next_attempt_at=timezone.now(), lease_until=None
    )
    queue_deliveries([delivery.pk])
