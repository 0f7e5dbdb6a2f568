"""manage.py preview_llm_input: prints exactly what would be sent to the model (redacted, condensed, numbered).

Operators use it to see what leaves their platform: `--file LOG` for a log file, `--flow-run ID` for a run
(read from Prefect and Airbyte as the automatic path reads it).
"""

import json
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ddpui.clients.airbyte import AirbyteError
from ddpui.clients.prefect import PrefectError
from ddpui.core.summaries.condense import condense
from ddpui.core.summaries.pipeline import MIN_EXCERPT_TOKENS, failure_fingerprint, preview_flow_run
from ddpui.core.summaries.prompt import build_messages, prompt_overhead_tokens


def file_lines(path: Path) -> Iterator[str]:
    """A log file's lines, streamed (any size), undecodable bytes replaced."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            yield line.rstrip("\r\n")


class Command(BaseCommand):
    """Print the model input for a log file or a flow run, with its token estimate."""

    help = "Print exactly what would be sent to the model for a log file or a flow run."

    def add_arguments(self, parser):
        """--file or --flow-run; --budget; --json."""
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--file", type=Path, help="A log file.")
        source.add_argument("--flow-run", help="A Prefect flow run id (its failed step's evidence).")
        parser.add_argument(
            "--budget", type=int, default=None, help="The excerpt's token budget (default: SUMMARY_TOKEN_BUDGET less the fixed prompt, as the pipeline)."
        )
        parser.add_argument("--json", action="store_true", help="Print the messages and figures as JSON.")

    def handle(self, *args, **options):
        """Build the excerpt and the messages, then print them."""
        budget = options["budget"]
        if budget is not None and budget < 100:
            raise CommandError("--budget must be at least 100 tokens")
        if options["file"]:
            path: Path = options["file"]
            if not path.is_file():
                raise CommandError(f"no such file: {path}")
            failed_step = {"kind": "file", "label": path.name}
            run_name, state_name = path.name, ""
            budget = budget or max(
                settings.SUMMARY_TOKEN_BUDGET - prompt_overhead_tokens(failed_step, run_name=run_name),
                MIN_EXCERPT_TOKENS,
            )
            excerpt = condense(file_lines(path), budget_tokens=budget)
        else:
            try:
                step, root, excerpt = preview_flow_run(options["flow_run"], budget_tokens=budget)
            except (PrefectError, AirbyteError, ValueError) as exc:
                raise CommandError(str(exc)) from exc
            failed_step, run_name, state_name = step.as_json(), root.name, root.state_name
        messages = build_messages(excerpt, failed_step, run_name=run_name, state_name=state_name)
        figures = {
            "lines_in": excerpt.lines_in,
            "tokens_in": excerpt.tokens_in,
            "excerpt_tokens": excerpt.tokens_out,
            "budget": excerpt.budget,
            "lines_kept": len(excerpt.lines),
            "fingerprint": failure_fingerprint(excerpt, str(failed_step.get("kind"))),
        }
        if options["json"]:
            self.stdout.write(json.dumps({"messages": messages, **figures}, indent=2))
            return
        for message in messages:
            self.stdout.write(f"===== {message['role']} =====\n{message['content']}\n")
        self.stdout.write(
            "===== figures =====\n"
            + "\n".join(f"{name}: {value}" for name, value in figures.items())
        )
