"""Django-Q2 entry points for notifications: thin wrappers over ddpui.core.webhooks."""

from ddpui.core.webhooks.handler import handle_notification as run_handler
from ddpui.core.webhooks.retry import enqueue_due_notifications


def handle_notification(notification_id: int) -> dict[str, str]:
    """Run the webhook handler's steps for one recorded notification."""
    return run_handler(notification_id)


def retry_notifications() -> int:
    """Schedule: re-queue notifications whose failed steps are due for another try."""
    return enqueue_due_notifications()
