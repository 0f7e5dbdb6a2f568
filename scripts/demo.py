"""The demo: real Prefect, our app and the cluster; two Dalgo pipelines fail and their summaries are printed.

    python -m scripts.demo   (scripts/demo.sh sets up first)

Starts a Prefect server (building its virtualenv once, 1-2 minutes, needs PyPI), the Airbyte stand-in,
the production web command (scripts/serve.sh: nginx in front of gunicorn) and a qcluster against PostgreSQL
(DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/ddpui_demo, created and migrated if needed),
configures Prefect with `manage.py setup_prefect_webhook`, runs a pipeline whose dbt step fails and one whose second Airbyte sync fails, waits for the summaries and prints them with
the failed step and where the time went. The failure emails go to a local SMTP sink: each is printed as sent
(it carries the summary), with the time from the run's end to the email, and a screenshot of the summary page
(headless Chromium, signed in as the org's admin) is saved. Everything it started is stopped at the end, on
error, or on Ctrl-C.

With OPENAI_API_KEY (and optionally OPENAI_BASE_URL, LLM_MODEL) set, summaries come from the model; without,
from the offline summarizer.
"""

import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/ddpui_demo"
# Django reads every setting from the environment once, at set-up: the demo's own choices go in first.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ddpui.settings")
os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
# Without DEBUG the app refuses the default key: a key of the demo's own, shared with the processes it starts.
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

import django  # noqa: E402

django.setup()

from ddpui.api.schemas import summary_out  # noqa: E402
from ddpui.core.auth.orgs import create_org_with_admin  # noqa: E402
from ddpui.core.summaries.optin import set_llm_optin  # noqa: E402
from ddpui.management.commands.summarize_flow_run import render_summary  # noqa: E402
from ddpui.models import Channel, DeliveryStatus, FailureDelivery  # noqa: E402
from harness.browser import chromium_installed, screenshot_summary_page  # noqa: E402
from harness.prefect_venv import PrefectVenvUnavailable  # noqa: E402
from harness.processes import HarnessError, wait_until  # noqa: E402
from harness.scenarios import (  # noqa: E402
    ScenarioRun,
    dbt_failure_after_sync,
    finish_scenario,
    second_sync_fails,
    start_scenario,
)
from harness.stack import DalgoStack, start_stack  # noqa: E402
from standins.smtp_sink import SmtpSink  # noqa: E402

DEMO_ORG = {"name": "Demo NGO", "email": "manager@demo-ngo.example", "slug": "demo-ngo"}
# The user's own cluster, model and summary settings reach the app's processes (the harness drops inherited
# Q_* variables unless they are passed on like this).
PASSED_ON_PREFIXES = ("Q_", "LLM_", "SUMMARY_")
# The failure email follows the stored summary within seconds; this bounds the wait when something is wrong.
EMAIL_TIMEOUT_SECONDS = 120


class Progress:
    """One status line that shows what we wait for and for how long (redrawn in place on a terminal)."""

    def __init__(self) -> None:
        self.interactive = sys.stdout.isatty()
        self.what = ""
        self.last_drawn = 0.0

    def step(self, message: str) -> None:
        """Start waiting for something new."""
        self.done()
        self.what = message
        print(f"- {message}", end="" if self.interactive else "\n", flush=True)

    def waiting(self, elapsed: float) -> None:
        """Redraw the elapsed time (at most a few times a second)."""
        if self.interactive and time.monotonic() - self.last_drawn > 0.2:
            self.last_drawn = time.monotonic()
            print(f"\r- {self.what} ... {elapsed:4.0f} s", end="", flush=True)

    def done(self) -> None:
        """End the current line."""
        if self.interactive and self.what:
            print(flush=True)
        self.what = ""


def print_result(run: ScenarioRun) -> None:
    """The run's state, its stored summary as `summarize_flow_run` prints it, and the measured timings."""
    print(f"\n=== {run.scenario.name}: flow run {run.flow_run.name} ({run.flow_run_id}) ended {run.flow_run.state.name}")
    print(render_summary(summary_out(run.session)))
    print(run.timeline.render("timings"))


def wait_for_email(sink: SmtpSink, run: ScenarioRun, progress: Progress) -> tuple[str, float]:
    """The failure email of the run as the sink received it, and the seconds from the run's end to it."""
    progress.step(f"waiting for the failure email of '{run.scenario.name}'")

    def sent_email() -> tuple[str, float] | None:
        delivery = FailureDelivery.objects.filter(flow_run_id=run.flow_run_id, channel=Channel.EMAIL,
                                                  status=DeliveryStatus.SENT).first()
        if delivery is None:
            return None
        for message, received in zip(sink.messages, sink.received_at, strict=True):
            body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
            if f"({run.flow_run_id})" in body:
                text = f"Subject: {message['Subject']}\nTo: {message['To']}\n\n{body}"
                return text, received - run.flow_run.end_time.timestamp()
        return None

    try:
        found = wait_until(sent_email, timeout=EMAIL_TIMEOUT_SECONDS, what="the failure email", interval=0.2,
                           progress=progress.waiting)
    except HarnessError:
        raise HarnessError(f"no failure email for {run.flow_run_id} within {EMAIL_TIMEOUT_SECONDS} s") from None
    progress.done()
    return found


def run_demo(stack: DalgoStack, sink: SmtpSink, progress: Progress, run_dir: Path) -> None:
    """Create the org, run both failing pipelines at once, print each summary as it is stored, the failure email
    it was sent with, and save the summary page's screenshot."""
    password = secrets.token_urlsafe(12)
    org, orguser, token = create_org_with_admin(**DEMO_ORG, password=password)
    if os.environ.get("OPENAI_API_KEY"):
        set_llm_optin(org=org, orguser=orguser, optin=True)  # the org's admin lets its logs go to the model
    print(f"org {org.slug}: manager {orguser.user.email}, API token {token[:6]}... (shown once, stored hashed)")
    runs = [
        start_scenario(stack, org, dbt_failure_after_sync(stack.airbyte)),
        start_scenario(stack, org, second_sync_fails(stack.airbyte)),
    ]
    to_email = []
    for run in runs:
        progress.step(f"waiting for '{run.scenario.name}' to fail and be summarized")
        finish_scenario(stack, run, progress=progress.waiting)
        progress.done()
        print_result(run)
        email, seconds = wait_for_email(sink, run, progress)
        to_email.append(seconds)
        print(f"\n--- the failure email, sent {seconds:.1f} s after the run ended ---\n{email}")
    print(f"run end -> email with its summary: median {statistics.median(to_email):.1f} s over {len(to_email)} runs "
          f"({', '.join(f'{s:.1f}' for s in to_email)} s)")
    if chromium_installed():
        path = run_dir / "summary_page.png"
        progress.step("opening the summary page in headless Chromium")
        seen = screenshot_summary_page(f"{stack.web_url}/summaries/{runs[0].session.public_id}/",
                                       email=DEMO_ORG["email"], password=password, path=str(path))
        progress.done()
        print(f"\nthe summary page as a person sees it (screenshot: {path}):\n{seen}")
    else:
        print("\nno screenshot: chromium is not installed (scripts/setup_chromium.sh)")


def interrupt(signum, frame) -> None:
    """SIGTERM ends the demo as Ctrl-C does: through the clean-up below."""
    raise KeyboardInterrupt


def main() -> int:
    """Start, run, print, stop. Exit status 0 on success, 2 when Prefect cannot be installed, 1 otherwise."""
    signal.signal(signal.SIGTERM, interrupt)
    progress = Progress()
    run_dir = Path(tempfile.mkdtemp(prefix="dalgo-demo-"))
    mode = "the model " + os.environ.get("LLM_MODEL", "") if os.environ.get("OPENAI_API_KEY") else "the offline summarizer"
    print(f"Dalgo failure-summary demo: database {os.environ['DATABASE_URL'].rsplit('@', 1)[-1]}, summaries by {mode}")
    print(f"logs of every process: {run_dir}")
    stack = None
    sink = SmtpSink().start()
    try:
        stack = start_stack(
            run_dir,
            database_url=os.environ["DATABASE_URL"],
            # A fresh database each time: the demo shows new summaries, not ones reused from an earlier demo.
            fresh_database=True,
            openai_api_key=os.environ.get("OPENAI_API_KEY", ""),
            openai_base_url=os.environ.get("OPENAI_BASE_URL", ""),
            settings={
                **{name: value for name, value in os.environ.items() if name.startswith(PASSED_ON_PREFIXES)},
                # The failure emails go to the demo's SMTP sink, which prints them.
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(sink.port), "EMAIL_USE_TLS": "false",
            },
            progress=progress.step,
            waiting=progress.waiting,
        )
        progress.done()
        print(stack.setup_output.rstrip())
        run_demo(stack, sink, progress, run_dir)
        return 0
    except PrefectVenvUnavailable as exc:
        progress.done()
        print(f"\nCannot run the demo: the Prefect server's virtualenv could not be built ({exc}).\n"
              "It needs network access to PyPI once (pip install prefect==3.9.1).", file=sys.stderr)
        return 2
    except HarnessError as exc:
        progress.done()
        print(f"\nThe demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        progress.done()
        print("\ninterrupted: stopping everything", file=sys.stderr)
        return 130
    finally:
        if stack is not None:
            stack.stop()
            print("stopped every process the demo started")
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
