"""Stores summaries: one LlmSession per (org, flow run, step), claimed by lease, retried with backoff."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from ddpui.core.queueing.leases import backoff, claim
from ddpui.core.redaction import redact_text, redact_value
from ddpui.core.summaries.condense import Excerpt
from ddpui.core.summaries.public import dalgo_result
from ddpui.core.summaries.summarize import SummaryResult
from ddpui.models import STRUCTURED_SUMMARY_FIELDS, LlmSession, Org, OrgUser, SummaryStatus
from ddpui.models.vocabulary import SummaryTrigger


def session_lease_seconds() -> float:
    """Long enough for the slowest summary (log wait + model timeout), short enough that a dead worker's
    claim frees the row within minutes."""
    return settings.LOG_SETTLE_MAX_SECONDS + 2 * settings.LLM_TIMEOUT_SECONDS + 60


def session_for_step(
    *,
    org: Org,
    flow_run_id: str,
    step_key: str,
    failed_step: dict[str, Any],
    orguser: OrgUser | None = None,
    trigger: str = SummaryTrigger.FAILURE,
) -> LlmSession:
    """The session row of this step, created pending if new. The unique constraint settles races."""
    session, _ = LlmSession.objects.get_or_create(
        org=org,
        flow_run_id=flow_run_id,
        step_key=step_key,
        defaults={
            "orguser": orguser,
            "trigger": trigger,
            "failed_step": failed_step,
            "task_id": failed_step.get("task_run_id") or failed_step.get("flow_run_id"),
            "node_ids": failed_step.get("node_ids") or [],
            "airbyte_job_id": failed_step.get("airbyte_job_id"),
            "attempt_number": failed_step.get("attempt"),
        },
    )
    return session


def claim_session(
    session: LlmSession, *, only_if_needed: bool = False, retry: bool = False, regenerate: bool = False
) -> bool:
    """Take the row for this worker (a conditional UPDATE; a dead worker's lease expires).

    The claim also schedules the row's retry for the lease's end: a worker killed mid-summary leaves a row the
    retry sweep picks up, never one stuck pending. `only_if_needed` repeats needs_work() inside the UPDATE:
    a duplicate task that read the row while another worker was finishing it must not summarize it again.
    A user's regenerate neither counts a try nor schedules one: the automatic path keeps all of its tries, and
    a regenerate lost with its worker simply lets the summary shown stay.
    `retry` (a task the sweep queued, which moved next_attempt_at ahead) takes the row only while it still
    awaits a try: after a dead cluster's task was redelivered and finished the row (next_attempt_at cleared),
    the sweep's retry must not call the model a second time.
    """
    due = Q(status=SummaryStatus.PENDING) | Q(next_attempt_at__lte=timezone.now())
    awaiting = Q(status=SummaryStatus.PENDING) | Q(next_attempt_at__isnull=False)
    extra = due if only_if_needed else (awaiting if retry else None)
    claimed = claim(
        LlmSession,
        session.pk,
        seconds=session_lease_seconds(),
        extra=extra,
        retry_field=None if regenerate else "next_attempt_at",
        count_field=None if regenerate else "attempts",
    )
    if claimed and not regenerate:
        session.attempts += 1  # the claim counted this try
    return claimed


def needs_work(session: LlmSession, *, regenerate: bool) -> bool:
    """Pending rows need work; ready and failed ones only when regenerated or when their retry is due
    (a ready offline summary waiting for the model, a failed one with tries left)."""
    if regenerate or session.status == SummaryStatus.PENDING:
        return True
    return session.next_attempt_at is not None and session.next_attempt_at <= timezone.now()


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Backoff from SUMMARY_RETRY_BASE_SECONDS (up to 6 h), never sooner than the server's Retry-After."""
    return backoff(attempts, base=settings.SUMMARY_RETRY_BASE_SECONDS, cap=6 * 3600, retry_after=retry_after)


def dalgo_pairs(session: LlmSession) -> list[dict[str, str]]:
    """Dalgo's `response` pairs of a stored summary (what its progress poll answers as `result`)."""
    return dalgo_result(
        title=session.title, summary=session.summary, root_cause=session.root_cause, fix_steps=session.fix_steps
    )


def set_ready(session: LlmSession, *, failed_step: dict[str, Any], excerpt: Excerpt, timings: dict[str, int]) -> None:
    """The fields every ready summary sets, made by the model, the offline rules or reuse."""
    session.status = SummaryStatus.READY
    session.ready_at = timezone.now()
    session.regenerating_since = None
    session.failed_step = failed_step
    session.node_ids = failed_step.get("node_ids") or session.node_ids
    session.airbyte_job_id = failed_step.get("airbyte_job_id")
    session.attempt_number = failed_step.get("attempt")
    session.excerpt = excerpt.text
    session.timings = timings


def save_summary(
    session: LlmSession,
    *,
    result: SummaryResult,
    excerpt: Excerpt,
    failed_step: dict[str, Any],
    fingerprint: str,
    timings: dict[str, int],
) -> LlmSession:
    """Store a summary as ready. Every text field of the answer is redacted (evidence and steps included):
    a model may echo what it should not, or what a log line told it to."""
    for name in STRUCTURED_SUMMARY_FIELDS:
        setattr(session, name, redact_value(getattr(result, name)))
    set_ready(session, failed_step=failed_step, excerpt=excerpt, timings=timings)
    session.fingerprint = fingerprint
    session.offline_reason = result.offline_reason
    session.reused_from = None
    session.response = dalgo_pairs(session)
    session.assistant_prompt = result.prompt
    if result.llm_error:
        # The offline summary is shown meanwhile; the retry schedule asks the model again later.
        # The server's explanation may quote the request back: redacted like every stored text.
        session.last_error = redact_text(f"LLM: {result.llm_error}")[:4000]
        session.next_attempt_at = (
            timezone.now() + retry_delay(session.attempts, result.retry_after)
            if result.llm_error_transient and session.attempts < settings.SUMMARY_MAX_ATTEMPTS
            else None
        )
    else:
        session.last_error = ""
        session.next_attempt_at = None
    session.lease_until = None
    session.save()
    return session


def save_timings(session: LlmSession, timings: dict[str, int]) -> None:
    """Store the stage timings again, once the store itself was timed."""
    session.timings = timings
    LlmSession.objects.filter(pk=session.pk).update(timings=timings)


def save_reuse(
    session: LlmSession, *, source: LlmSession, excerpt: Excerpt, failed_step: dict[str, Any], timings: dict[str, int]
) -> LlmSession:
    """Store a recurring failure as a copy of an earlier ready summary, with no model call."""
    for name in STRUCTURED_SUMMARY_FIELDS:
        setattr(session, name, getattr(source, name))
    set_ready(session, failed_step=failed_step, excerpt=excerpt, timings=timings)
    session.fingerprint = source.fingerprint
    session.offline_reason = source.offline_reason
    session.reused_from = source
    session.tokens_in, session.tokens_out, session.latency_ms = 0, 0, 0
    session.response = dalgo_pairs(session)
    session.last_error = ""
    session.next_attempt_at = None
    session.lease_until = None
    session.save()
    return session


def record_failure(
    session: LlmSession, error: str, *, transient: bool = True, count_attempt: bool = False, regenerate: bool = False
) -> LlmSession:
    """A try failed: the row says failed with the reason, and is retried with backoff until the limit.

    A row already ready (an offline summary awaiting the model, or a good summary a regenerate tried to
    replace) stays ready and readable. Claimed tries were counted by the claim; `count_attempt` counts a try
    that failed before it could claim the row. A failed regenerate leaves the automatic path's tries and
    schedule as they were.
    """
    if count_attempt and not regenerate:
        session.attempts += 1
    session.last_error = redact_text(error)[:4000]
    session.lease_until = None
    session.regenerating_since = None
    if not regenerate:
        retry = transient and session.attempts < settings.SUMMARY_MAX_ATTEMPTS
        session.next_attempt_at = timezone.now() + retry_delay(session.attempts) if retry else None
    if session.status != SummaryStatus.READY:
        session.status = SummaryStatus.FAILED
    session.save()
    return session


def find_reusable(session: LlmSession, fingerprint: str) -> LlmSession | None:
    """A ready summary of the same org with the same fingerprint from the last SUMMARY_REUSE_DAYS days."""
    if not fingerprint:
        return None
    since = timezone.now() - timedelta(days=settings.SUMMARY_REUSE_DAYS)
    return (
        LlmSession.objects.filter(
            org_id=session.org_id, fingerprint=fingerprint, status=SummaryStatus.READY, created_at__gte=since
        )
        .filter(Q(reused_from__isnull=True))
        .exclude(pk=session.pk)
        .exclude(provider="offline", next_attempt_at__isnull=False)
        .order_by("-created_at")
        .first()
    )


def due_rows(now) -> QuerySet[LlmSession]:
    """Sessions whose next try is due and that nobody holds."""
    return LlmSession.objects.due(now)


def due_for_retry(limit: int = 50) -> list[int]:
    """Ids of due sessions that have tries left."""
    rows = due_rows(timezone.now()).filter(attempts__lt=settings.SUMMARY_MAX_ATTEMPTS)
    return list(rows.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def give_up_exhausted() -> int:
    """End the due sessions that used all their tries (e.g. the worker died every time): failed, with why.

    A ready row (an offline summary that never got upgraded) stays ready and simply stops retrying.
    """
    exhausted = due_rows(timezone.now()).filter(attempts__gte=settings.SUMMARY_MAX_ATTEMPTS)
    ended = 0
    for session in exhausted:
        reason = session.last_error or "the worker stopped (killed or timed out) on every try"
        session.last_error = f"gave up after {session.attempts} tries: {reason}"[:4000]
        session.next_attempt_at = None
        if session.status != SummaryStatus.READY:
            session.status = SummaryStatus.FAILED
        session.save(update_fields=["last_error", "next_attempt_at", "status", "updated_at"])
        ended += 1
    return ended


def pending_session_ids(flow_run_id: str) -> list[int]:
    """The flow run's summaries still pending (an automatic task for the run died before finishing them)."""
    return list(
        LlmSession.objects.filter(flow_run_id=flow_run_id, status=SummaryStatus.PENDING).values_list("pk", flat=True)
    )


def mark_failed_by_hook(session_id: int, error: str, *, regenerate: bool = False) -> None:
    """The task-failure hook's verdict: the worker raised or timed out; retry per our schedule (a regenerate
    is not retried, and a good summary it was replacing stays)."""
    session = LlmSession.objects.filter(pk=session_id).first()
    if session is not None:
        record_failure(session, f"task failed: {error}", count_attempt=True, regenerate=regenerate)
