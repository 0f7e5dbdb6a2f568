"""Django-Q2 entry points for summaries: thin wrappers over ddpui.core.summaries."""

from ddpui.core.summaries.pipeline import produce_session, summarize_flow_run
from ddpui.core.summaries.retry import enqueue_due_summaries
from ddpui.core.webhooks.reconcile import enqueue_missed_failures


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
    return enqueue_due_summaries()


def reconcile_missed_failures() -> int:
    """Schedule: ask Prefect for failed root runs of our deployments that have no summary, and queue them."""
    return enqueue_missed_failures()
