"""Re-queues summaries whose retry is due (failed tries, offline summaries awaiting the model) and ends those that
used all their tries."""

from datetime import timedelta

from django.utils import timezone

from ddpui.core.summaries.queue import enqueue_session_summary
from ddpui.core.summaries.store import due_for_retry, give_up_exhausted, session_lease_seconds
from ddpui.models import LlmSession


def enqueue_due_summaries() -> int:
    """Queue a retry of each due summary with tries left; returns how many were queued."""
    give_up_exhausted()
    due = due_for_retry()
    # Not queued again by the next sweep unless this try is lost (then it is, after a lease).
    LlmSession.objects.filter(pk__in=due).postpone(timezone.now() + timedelta(seconds=session_lease_seconds()))
    for session_id in due:
        enqueue_session_summary(session_id, retry=True)
    return len(due)
