"""Django-Q2 entry points for failure notifications: thin wrappers over ddpui.core.notify."""

from ddpui.core.notify.deliveries import deliver
from ddpui.core.notify.deliveries import send_due_deliveries as queue_due


def deliver_failure(delivery_id: int) -> str:
    """Send one failure delivery (one channel), with the summary when it is stored."""
    return deliver(delivery_id)


def send_due_deliveries() -> int:
    """Schedule (and the one-off schedule at the end of a wait): queue the deliveries that are due."""
    return queue_due()
