"""The texts of a failure message (email and Discord): the summary in plain, redacted words, or, when it is not
ready in time, where it will be. No stack trace ever goes out: a person reads these, not a debugger."""

import re
from dataclasses import dataclass

from django.conf import settings

from ddpui.core.redaction import redact_text
from ddpui.models import FailureDelivery, LlmSession, SummaryStatus

MAX_EVIDENCE_LINES = 3
# Lines of a Python traceback: its header and its `File "...", line N` frames.
TRACEBACK_LINE = re.compile(r'^\s*(Traceback \(most recent call last\):|File ".*", line \d+)')


@dataclass
class MessageText:
    """What one failure message says."""

    subject: str
    body: str


def plain(text: str, limit: int = 600) -> str:
    """Redacted text without traceback lines, cut to `limit` characters."""
    kept = [line for line in (text or "").splitlines() if not TRACEBACK_LINE.match(line)]
    cleaned = redact_text("\n".join(kept).strip())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def summary_page_url(delivery: FailureDelivery, session: LlmSession | None) -> str:
    """The summary page: by the summary's id when it exists, else by the run (the page finds the summary)."""
    if session is not None:
        return f"{settings.SUMMARY_PAGE_BASE_URL}/summaries/{session.public_id}/"
    return f"{settings.SUMMARY_PAGE_BASE_URL}/summaries/run/{delivery.flow_run_id}/"


def earlier_same_failure(session: LlmSession) -> LlmSession | None:
    """The earlier summary of the same failure (same fingerprint) in the org: the one reused, else the latest."""
    if session.reused_from_id:
        return session.reused_from
    if not session.fingerprint:
        return None
    return (
        LlmSession.objects.filter(org_id=session.org_id, fingerprint=session.fingerprint, status=SummaryStatus.READY,
                                  created_at__lt=session.created_at)
        .exclude(pk=session.pk)
        .only("flow_run_id", "airbyte_job_id", "created_at")
        .order_by("-created_at")
        .first()
    )


def recurrence_line(session: LlmSession) -> str:
    """"Same failure as run X on date", for a failure seen before."""
    earlier = earlier_same_failure(session)
    if earlier is None:
        return ""
    return f"Same failure as run {earlier.flow_run_id or earlier.airbyte_job_id} on {earlier.created_at.date().isoformat()}."


def rerun_line(session: LlmSession) -> str:
    """Whether a re-run is likely to help, in words."""
    if session.is_transient is True:
        return "Will a re-run help? Likely yes: this looks temporary."
    if session.is_transient is False:
        return "Will a re-run help? Probably not: fix the cause first."
    return "Will a re-run help? Unknown."


def made_by_line(session: LlmSession) -> str:
    """How the summary was made: by a model, or by the offline rules and why."""
    if session.provider == "offline":
        reason = f" ({session.offline_reason})" if session.offline_reason else ""
        return f"Made by Dalgo's offline rules, no LLM{reason}."
    return f"Made by {session.model or session.provider}."


def summary_lines(session: LlmSession) -> list[str]:
    """The summary's part of the message: title, what happened, root cause, fix steps, evidence, re-run."""
    lines = [f"What went wrong: {plain(session.title, 300)}", "", plain(session.summary, 1200)]
    if session.root_cause:
        lines += ["", f"Root cause: {plain(session.root_cause, 600)}"]
    if session.fix_steps:
        lines += ["", "How to fix it:"] + [f"{n}. {plain(step, 400)}" for n, step in enumerate(session.fix_steps, 1)]
    evidence = [item for item in session.evidence or [] if not TRACEBACK_LINE.match(str(item.get("text", "")))]
    if evidence:
        lines += ["", "From the log:"]
        lines += [f"  line {item.get('line')}: {plain(str(item.get('text', '')), 300)}" for item in evidence[:MAX_EVIDENCE_LINES]]
    lines += ["", rerun_line(session)]
    recurrence = recurrence_line(session)
    if recurrence:
        lines.append(recurrence)
    lines.append(made_by_line(session))
    return lines


def failure_message(delivery: FailureDelivery, session: LlmSession | None, org_name: str) -> MessageText:
    """The failure message: the run, then the summary (or where it will be), then the page's link."""
    # Names are the user's text: redacted like everything else (a run named after a connection string).
    run = redact_text(delivery.flow_run_name or delivery.flow_run_id)
    pipeline = redact_text(delivery.pipeline_name) or run
    title = f": {plain(session.title, 120)}" if session is not None else ""
    subject = f"Dalgo: {pipeline} {delivery.state_name.lower()}{title}"[:300]
    step = (session.failed_step or {}) if session is not None else {}
    lines = [
        f"A pipeline run of {org_name} ended in state {delivery.state_name}.",
        "",
        f"Pipeline: {pipeline}",
        f"Run: {run} ({delivery.flow_run_id})",
    ]
    step_label = step.get("task_slug") or step.get("label")
    if step_label:
        lines.append(f"Failed step: {step_label}")
    if delivery.state_message:
        lines.append(f"Prefect says: {plain(delivery.state_message, 300)}")
    lines.append("")
    if session is not None:
        lines += summary_lines(session)
        lines += ["", f"The full summary: {summary_page_url(delivery, session)}"]
    else:
        lines += [
            "The plain-language summary of what went wrong was not ready yet; it will be on this page:",
            summary_page_url(delivery, None),
        ]
    return MessageText(subject=subject, body="\n".join(lines))


def email_body(message: MessageText) -> str:
    """The email: greeting, the message, signature."""
    return f"Hello,\n\n{message.body}\n\n— Dalgo\n"


def discord_content(message: MessageText) -> str:
    """The Discord message: the subject in bold, then the message."""
    return f"**{message.subject}**\n{message.body}"
