"""manage.py setup_prefect_webhook --url URL [--with-heartbeat-guard] | --check [--url URL]."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ddpui.clients.prefect import PrefectError
from ddpui.core.operations.prefect_setup import PrefectSetupError, check_prefect_webhook, setup_prefect_webhook


class Command(BaseCommand):
    """Create or update (idempotently) the Prefect webhook block and automations that call our webhook."""

    help = (
        "Configure the Prefect server at PREFECT_API_URL to POST our webhook when a flow run ends. "
        "Running it again changes nothing. --check only reports (exit status 1 if not configured or unreachable)."
    )

    def add_arguments(self, parser):
        """--url, --check, --with-heartbeat-guard."""
        parser.add_argument("--url", help="Our public webhook URL, e.g. https://dalgo.example.org/webhooks/v1/notification/")
        parser.add_argument("--check", action="store_true", help="Report whether Prefect is configured; change nothing.")
        parser.add_argument(
            "--with-heartbeat-guard",
            action="store_true",
            help="Also mark runs Crashed after missed heartbeats (runners must set PREFECT_RUNNER_HEARTBEAT_FREQUENCY).",
        )

    def handle(self, *args, **options):
        """Set up or check, printing one line per Prefect object (never a secret)."""
        url, guard = options["url"], options["with_heartbeat_guard"]
        try:
            if options["check"]:
                configured, outcomes = check_prefect_webhook(url, heartbeat_guard=guard)
            else:
                if not url:
                    raise CommandError("--url is required (our webhook URL as Prefect reaches it)")
                configured, outcomes = True, setup_prefect_webhook(url, heartbeat_guard=guard)
        except (PrefectError, PrefectSetupError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Prefect API: {settings.PREFECT_API_URL}")
        for outcome in outcomes:
            self.stdout.write(f"  {outcome}")
        if not configured:
            raise CommandError("Prefect is not configured to call our webhook (see above)")
        self.stdout.write("configured" if options["check"] else "done")
