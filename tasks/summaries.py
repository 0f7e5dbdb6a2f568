"""Django-Q2 entry points for summaries: thin wrappers over ddpui.core.summaries."""

from datetime import timedelta

from django.utils import timezone

from ddpui.core.summaries.pipeline import produce_session, summarize_flow_run
from ddpui.core.summaries.queue import enqueue_session_summary
from ddpui.core.summaries.store import due_for_retry, give_up_exhausted, session_lease_seconds
from ddpui.core.webhooks.reconcile import enqueue_missed_failures
from ddpui.models import LlmSession


def lease_delta() -> timedelta:
    """How long a queued retry may take before the sweep queues it again."""
    return timedelta(seconds=session_lease_seconds())


def summarize_flow_run_failure(flow_run_id: str) -> str:
    """Summarize a failed root flow run (the automatic path)."""
    session = summarize_flow_run(flow_run_id)
    return f"{session.status} {session.pk}" if session else "no org: skipped"


def produce_session_summary(session_id: int, regenerate: bool = False, retry: bool = False) -> str:
    """(Re)generate one stored summary row; `retry` does it even if the row looks done (a due retry)."""
    session = produce_session(session_id, regenerate=regenerate, retry=retry)
    return f"{session.status} {session.pk}" if session else "missing"


def retry_due_summaries() -> int:
    """Schedule: re-queue summaries whose retry is due (failed tries, offline summaries awaiting the model);
    end those that used all their tries."""
    give_up_exhausted()
    due = due_for_retry()
    # Not queued again by the next sweep unless this try is lost (then it is, after a lease).
    LlmSession.objects.filter(pk__in=due).update(next_attempt_at=timezone.now() + lease_delta())
    for session_id in due:
        enqueue_session_summary(session_id, retry=True)
    return len(due)


def reconcile_missed_failures() -> int:
    """Schedule: ask Prefect for failed root runs of our deployments that have no summary, and queue them."""
    return enqueue_missed_failures()
