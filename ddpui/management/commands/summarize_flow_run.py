"""manage.py summarize_flow_run <flow_run_id> [--regenerate]: the whole pipeline in the foreground."""

import json

from django.core.management.base import BaseCommand, CommandError

from ddpui.api.schemas import summary_out
from ddpui.clients.prefect import PrefectError
from ddpui.core.summaries.pipeline import summarize_flow_run


class Command(BaseCommand):
    """Locate, gather, condense, summarize and store one flow run's failure, then print the summary."""

    help = "Summarize a flow run's failure now (in this process) and print the stored summary."

    def add_arguments(self, parser):
        """flow_run_id, --regenerate, --json."""
        parser.add_argument("flow_run_id")
        parser.add_argument("--regenerate", action="store_true", help="Make a fresh summary even if one is stored.")
        parser.add_argument("--json", action="store_true", help="Print the stored summary as JSON.")

    def handle(self, *args, **options):
        """Run and print."""
        try:
            session = summarize_flow_run(options["flow_run_id"], regenerate=options["regenerate"])
        except PrefectError as exc:
            raise CommandError(str(exc)) from exc
        if session is None:
            raise CommandError("the flow run names no org we know (parameters.config.org_slug)")
        if options["json"]:
            self.stdout.write(json.dumps(summary_out(session), indent=2, default=str))
            return
        self.stdout.write(render_summary(summary_out(session)))


def render_summary(data: dict) -> str:
    """A stored summary as readable text for a terminal."""
    step = data.get("failed_step") or {}
    lines = [
        f"status:      {data['status']}  (provider {data['provider'] or '-'}, model {data['model'] or '-'})",
        f"failed step: {step.get('kind')} '{step.get('task_slug') or step.get('label')}'"
        + (f" connection {step['connection_id']}" if step.get("connection_id") else "")
        + (f" job {step['airbyte_job_id']}" if step.get("airbyte_job_id") is not None else ""),
        f"title:       {data['title']}",
        f"category:    {data['category']}  transient: {data['is_transient']}",
        "",
        data["summary"],
        "",
        f"root cause:  {data['root_cause']}",
    ]
    if data.get("reused_from"):
        lines.append(f"reused:      {data['reused_from']['message']}")
    if data["fix_steps"]:
        lines += ["", "fix steps:"] + [f"  {n}. {s}" for n, s in enumerate(data["fix_steps"], 1)]
    if data["evidence"]:
        lines += ["", "evidence:"] + [f"  {e['line']:>6} | {e['text']}" for e in data["evidence"]]
    if data.get("error"):
        lines += ["", f"last error:  {data['error']}"]
    return "\n".join(lines)
