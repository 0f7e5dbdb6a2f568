"""Django-Q2 entry points for housekeeping."""

from ddpui.core.operations.retention import prune_old_records


def prune() -> dict[str, int]:
    """Schedule: delete notifications and task results older than RETENTION_DAYS."""
    return prune_old_records()
