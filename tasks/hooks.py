"""Django-Q2 hooks. They run in the cluster's monitor process, once per task attempt."""

import logging

from django_q.models import Task

from ddpui.core.summaries.queue import PRODUCE_SESSION_TASK, SUMMARIZE_FLOW_RUN_TASK
from ddpui.core.summaries.store import mark_failed_by_hook, pending_session_ids

logger = logging.getLogger(__name__)


def on_task_failure(task: Task) -> None:
    """Log a failed task (name, arguments, error) and mark the summary it was making as failed."""
    if task.success:
        return
    logger.error("task %s (%s) failed: args=%r kwargs=%r error=%s", task.name, task.func, task.args, task.kwargs, task.result)
    args = list(task.args or ())
    if task.func == PRODUCE_SESSION_TASK and args:
        regenerate = bool((task.kwargs or {}).get("regenerate"))
        mark_failed_by_hook(int(args[0]), str(task.result), regenerate=regenerate)
    elif task.func == SUMMARIZE_FLOW_RUN_TASK and args:
        for session_id in pending_session_ids(str(args[0])):
            mark_failed_by_hook(session_id, str(task.result))
