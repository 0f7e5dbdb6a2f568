"""manage.py check_queue: the queue's liveness as an exit code, for supervisors, cron and monitoring."""

import json

from django.core.management.base import BaseCommand

from ddpui.core.queue_health import check_queue_health

EXIT_HEALTHY = 0
EXIT_STALLED = 1
EXIT_DATABASE_DOWN = 2


def exit_code(report) -> int:
    """0 healthy; 1 the queue is stalled (restarting the cluster helps); 2 the database is down (it does not)."""
    if report.database != "ok":
        return EXIT_DATABASE_DOWN
    return EXIT_HEALTHY if report.healthy else EXIT_STALLED


class Command(BaseCommand):
    """Print the queue's health as JSON and exit 0 (healthy), 1 (stalled) or 2 (database down)."""

    help = "Check that the Django-Q2 cluster takes work: exit 0 healthy, 1 stalled, 2 database down (JSON on stdout)."

    def handle(self, *args, **options):
        """Check, print, exit with the code."""
        report = check_queue_health()
        self.stdout.write(json.dumps(report.as_dict()))
        code = exit_code(report)
        if code:
            raise SystemExit(code)
