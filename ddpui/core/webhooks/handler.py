"""The notification handler, run on the qcluster. Dalgo's existing work first, the failure summary last.

Steps (Dalgo's, in its order: docs/dalgo.md), each isolated so that one failing does not skip the others:
  1. read the flow run from Prefect (if Prefect is down, fall back to what the notification says, retry later)
  2. flow-run row and task locks               3. failure emails (and Discord) to the org, planned to carry the summary
  4. sync the Airbyte jobs of the run's connections
  5. last, in its own guard: enqueue the failure summary of a root run that ended Failed/Crashed/TimedOut, or
     DBT_TEST_FAILED (Dalgo's state for failed dbt tests: the failing tests are the evidence)
Steps that succeeded are remembered, so a retry redoes only what failed (no second email).
"""

import logging
from collections.abc import Callable

from django.utils import timezone

from ddpui.clients.prefect import FlowRunNotFound, PrefectError
from ddpui.core.airbyte_jobs import sync_connection_jobs
from ddpui.core.flow_runs import (
    FAILURE_STATE_NAMES,
    SUMMARY_STATE_NAMES,
    FlowRunInfo,
    flow_run_info_from_notification,
    org_of,
    read_flow_run_from_prefect,
)
from ddpui.core.notify.deliveries import plan_failure_notices
from ddpui.core.queueing.leases import backoff, claim, release
from ddpui.core.redaction import redact_text
from ddpui.core.summaries.queue import enqueue_flow_run_summary
from ddpui.core.webhooks.flow_run_record import record_flow_run_state
from ddpui.models import Notification, NotificationStatus

logger = logging.getLogger(__name__)

READ_FLOW_RUN = "read_flow_run"
# Steps that decide from Prefect's view of the run; the notification alone may lack (text body) or misstate
# (a child run looks like a root) what they need, so they wait for Prefect rather than conclude "nothing to do".
PREFECT_STEPS = frozenset({"flow_run_record", "enqueue_summary"})
NOTIFICATION_MAX_ATTEMPTS = 8
# The handler's lease: longer than any handler run, shorter than a human would wait for a retry.
HANDLER_LEASE_SECONDS = 300
# A notification whose steps failed is retried after 30 s, 1 min, 2 min, ... up to 1 h.
NOTIFICATION_RETRY_BASE_SECONDS = 30


class StepSkipped(Exception):
    """A step cannot run yet (e.g. it needs Prefect's data): retry it later."""


def sync_airbyte_jobs(info: FlowRunInfo) -> str:
    """Step 4: store the Airbyte jobs of each connection the run synced, created within the run's window."""
    if not info.is_terminal:
        return "run not finished: nothing to sync"
    connection_ids = info.airbyte_connection_ids
    if not connection_ids:
        return "no Airbyte tasks"
    started = info.start_time or info.expected_start_time
    if started is None:
        raise StepSkipped("the run's start time is unknown (Prefect not read yet)")
    ended = info.end_time or timezone.now()
    stored, errors = 0, []
    for connection_id in connection_ids:
        rows, job_errors = sync_connection_jobs(connection_id, started=started, ended=ended)
        stored += len(rows)
        errors.extend(job_errors)
    if errors:
        raise RuntimeError(f"stored {stored} job(s); failed: {'; '.join(errors)}")
    return f"stored {stored} job(s) of {len(connection_ids)} connection(s)"


def enqueue_summary(info: FlowRunInfo) -> str:
    """Step 5: queue the failure summary of a root run that ended Failed, Crashed, TimedOut or DBT_TEST_FAILED."""
    if not (info.is_root and info.needs_summary):
        return "no summary needed"
    enqueue_flow_run_summary(info.id)
    return "summary queued"


def reports_failure(notification: Notification) -> bool:
    """The notification itself announces a failure. The handler reads the run's CURRENT state from Prefect,
    so a Pending or Running notification handled after the run failed must not email or summarize again."""
    return notification.state_name in FAILURE_STATE_NAMES


def reports_summary_state(notification: Notification) -> bool:
    """The notification announces a state whose run is summarized (a failure, or failed dbt tests); as with
    emails, a stale Pending/Running notification handled after the run ended must not summarize again."""
    return notification.state_name in SUMMARY_STATE_NAMES


def waits_for_prefect(name: str, info: FlowRunInfo) -> bool:
    """Prefect could not be read: does step `name` need it? Email and Airbyte can go on when the notification
    carried the run's parameters (the automation body does; Dalgo's text body carries nothing)."""
    return name in PREFECT_STEPS or not info.parameters


def read_flow_run_info(notification: Notification) -> tuple[FlowRunInfo, str | None]:
    """Step 1: the flow run from Prefect, or from the notification with the error that forced it."""
    try:
        return read_flow_run_from_prefect(notification.flow_run_id), None
    except FlowRunNotFound:
        raise
    except (PrefectError, ValueError) as exc:
        return flow_run_info_from_notification(notification), str(exc)


def handle_notification(notification_id: int) -> dict[str, str]:
    """Run the handler steps for one notification; returns step -> outcome (also stored on the row)."""
    if not claim(Notification, notification_id, seconds=HANDLER_LEASE_SECONDS):
        return {"skipped": "another worker holds this notification"}
    try:
        notification = Notification.objects.get(pk=notification_id)
        if notification.status in (NotificationStatus.HANDLED, NotificationStatus.FAILED):
            return {"skipped": f"already {notification.status}"}
        return run_steps(notification)
    finally:
        release(Notification, notification_id)


def run_steps(notification: Notification) -> dict[str, str]:
    """Steps 1-5 for a claimed notification; records what happened and schedules a retry if needed."""
    done = set(notification.steps_done)
    outcomes: dict[str, str] = {}
    errors: dict[str, str] = {}
    try:
        info, read_error = read_flow_run_info(notification)
    except FlowRunNotFound as exc:
        finish(notification, done, {READ_FLOW_RUN: f"Prefect does not know this flow run: {exc}"}, final=True)
        return {READ_FLOW_RUN: "flow run not found"}
    if read_error:
        errors[READ_FLOW_RUN] = read_error
    org = org_of(info)
    failure = reports_failure(notification)
    summarize = reports_summary_state(notification)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("flow_run_record", lambda: record_flow_run_state(info)),
        # The email (and Discord) message is planned here and sent when the summary is stored or the wait ends.
        ("failure_email", lambda: plan_failure_notices(info, org) if failure else "not a failure notification: no email"),
        ("airbyte_jobs", lambda: sync_airbyte_jobs(info)),
        # Last and in its own guard: nothing above depends on it, and its failure undoes nothing above.
        ("enqueue_summary", lambda: enqueue_summary(info) if summarize else "not a failure notification"),
    ]
    for name, step in steps:
        if name in done:
            continue
        if read_error and waits_for_prefect(name, info):
            # The state read from Prefect wins over the message: without it, recording could regress the row,
            # and the other steps would conclude "nothing to do" from a text body that names no deployment.
            errors[name] = "waiting for Prefect"
            continue
        try:
            outcomes[name] = step()
            done.add(name)
        except Exception as exc:  # each step is isolated: log, remember, go on
            logger.exception("notification %s: step %s failed", notification.id, name)
            errors[name] = redact_text(f"{type(exc).__name__}: {exc}")  # exception texts quote DSNs and configs
    finish(notification, done, errors, final=False)
    return {**outcomes, **{name: f"error: {error}" for name, error in errors.items()}}


def finish(notification: Notification, done: set[str], errors: dict[str, str], *, final: bool) -> None:
    """Store the outcome: handled, retrying later with backoff, or failed for good."""
    notification.attempts += 1
    notification.steps_done = sorted(done)
    notification.step_errors = errors
    if not errors:
        notification.status = NotificationStatus.HANDLED
        notification.handled_at = timezone.now()
        notification.next_attempt_at = None
    elif final or notification.attempts >= NOTIFICATION_MAX_ATTEMPTS:
        notification.status = NotificationStatus.FAILED
        notification.next_attempt_at = None
    else:
        notification.status = NotificationStatus.RETRYING
        notification.next_attempt_at = timezone.now() + backoff(notification.attempts, base=NOTIFICATION_RETRY_BASE_SECONDS)
    notification.save(
        update_fields=["attempts", "steps_done", "step_errors", "status", "handled_at", "next_attempt_at"]
    )
