"""Queues summary work on the cluster."""

from ddpui.core.queueing.enqueue import enqueue

SUMMARIZE_FLOW_RUN_TASK = "tasks.summaries.summarize_flow_run_failure"
PRODUCE_SESSION_TASK = "tasks.summaries.produce_session_summary"


def enqueue_flow_run_summary(flow_run_id: str) -> None:
    """Queue the automatic summary of a failed root flow run (idempotent downstream: one row, one LLM call)."""
    enqueue(SUMMARIZE_FLOW_RUN_TASK, flow_run_id, task_name=f"summarize-flow-run-{flow_run_id}")


def enqueue_session_summary(session_id: int, *, regenerate: bool = False, retry: bool = False) -> None:
    """Queue the (re)generation of one existing LlmSession row."""
    enqueue(PRODUCE_SESSION_TASK, session_id, regenerate=regenerate, retry=retry,
            task_name=f"summarize-session-{session_id}")
