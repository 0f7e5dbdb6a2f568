"""The prompt: written for a non-engineer at an NGO, asking for JSON that follows SUMMARY_SCHEMA."""

import json
from typing import Any

from ddpui.core.redaction import redact_text
from ddpui.core.summaries.condense import Excerpt
from ddpui.core.summaries.schema import CATEGORIES, SUMMARY_SCHEMA

PROMPT_VERSION = "v1"

SYSTEM_PROMPT = f"""You explain data pipeline failures to people at small NGOs who run their data work without
an engineering team. A pipeline (Airbyte syncs, then dbt transformations, orchestrated by Prefect) failed.
You get the step that failed and an excerpt of that step's log: redacted, condensed, each line numbered with
its line number in the original log ("... N lines omitted ..." marks gaps).

Answer with ONE JSON object, no other text, with these fields:
- title: one short line saying what failed, in plain words (no jargon, no stack traces).
- summary: 2-4 sentences a non-engineer understands: what happened and what it means for their data.
- root_cause: the underlying cause in one or two sentences. The FIRST real error usually is the cause;
  warnings, retries and later errors that follow from it are not.
- category: one of {", ".join(CATEGORIES)}.
- fix_steps: 2-5 ordered, concrete steps they can take (say when they need to ask whoever set up the
  connection or the dbt project).
- evidence: the 1-5 log lines that show the cause, as {{"line": <number from the excerpt>, "text": <the line>}}.
- is_transient: true only if simply re-running would likely succeed (network blips, rate limits, timeouts).
- confidence: 0 to 1, how sure you are of the root cause given this excerpt.
Use only what the excerpt shows; if it is not enough, say so plainly and lower the confidence.
Never repeat anything that looks like a password, key or token."""


def step_description(failed_step: dict[str, Any], run_name: str, state_name: str) -> str:
    """A few lines that say which step of which run failed."""
    parts = [f"Pipeline run: {run_name or failed_step.get('flow_run_id', '')} (ended {state_name or 'Failed'})"]
    parts.append(f"Failed step: {failed_step.get('label', '')} (kind: {failed_step.get('kind', '')})")
    if failed_step.get("task_slug"):
        parts.append(f"Dalgo task: {failed_step['task_slug']}")
    if failed_step.get("connection_id"):
        parts.append(f"Airbyte connection: {failed_step['connection_id']}")
    if failed_step.get("airbyte_job_id") is not None:
        parts.append(f"Airbyte job: {failed_step['airbyte_job_id']}, attempt {failed_step.get('attempt')}")
    return redact_text("\n".join(parts))


def build_messages(
    excerpt: Excerpt, failed_step: dict[str, Any], *, run_name: str = "", state_name: str = ""
) -> list[dict[str, str]]:
    """The chat messages of one summary request (system + user); the excerpt is already redacted."""
    user = (
        f"{step_description(failed_step, run_name, state_name)}\n\n"
        f"Log excerpt ({excerpt.lines_in} lines in the original log):\n{excerpt.text}\n\n"
        f"Answer with JSON following this schema:\n{json.dumps(SUMMARY_SCHEMA, separators=(',', ':'))}"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
