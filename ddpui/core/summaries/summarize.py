"""summarize_logs: the ONE function that turns evidence into a summary, for the automatic and on-demand paths.

With an LLM configured it makes one chat-completions call, validates the JSON answer and grounds it in the
excerpt (ddpui/core/summaries/grounding.py); if the model is down or answers nonsense it returns the offline
summary with `llm_error` set (the caller stores it and retries the model later when the error is transient).
Without an LLM, or for an org whose logs must not go to one (not opted in, over its monthly budget), it
returns the offline summary with `offline_reason` set: the gate is here, right before the call, so every path
(automatic, on demand, regenerate, retries) passes it.
"""

from dataclasses import dataclass, make_dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.conf import settings

from ddpui.clients.llm import LlmError, chat_json, llm_configured
from ddpui.core.llm_slots import llm_slot
from ddpui.core.org_settings.preferences import llm_refusal
from ddpui.core.summaries.categorize import Category, categorize
from ddpui.core.summaries.condense import Excerpt
from ddpui.core.summaries.fingerprint import strip_log_prefix
from ddpui.core.summaries.grounding import ground_answer, key_line_evidence
from ddpui.core.summaries.prompt import PROMPT_VERSION, build_messages
from ddpui.core.summaries.schema import SUMMARY_SCHEMA, SummaryFormatError, parse_summary
from ddpui.models import Org, StructuredSummary

OFFLINE_PROMPT_VERSION = "offline-v1"


# One attribute per field of StructuredSummary (ddpui/models/llm.py), defaulting like its column: the summary's
# fields are listed once, on the model.
StructuredSummaryValues = make_dataclass(
    "StructuredSummaryValues",
    [(field.name, Any, dataclass_field(default_factory=field.get_default)) for field in StructuredSummary._meta.fields],
)


@dataclass
class SummaryResult(StructuredSummaryValues):
    """A structured summary (StructuredSummary's fields) and how the call that made it went."""

    prompt: str = ""
    llm_error: str | None = None
    llm_error_transient: bool = False
    retry_after: float | None = None
    offline_reason: str = ""
    # The response format the server honoured (json_schema, json_object or none): for the quality bench.
    response_format: str = ""


def rules_verdict(excerpt: Excerpt, failed_step: dict[str, Any]) -> Category:
    """The offline rules' category of the excerpt (root-cause lines first, then the rest)."""
    key_texts = [text for _, text in excerpt.key_lines]
    return categorize(key_texts, other_text=excerpt.text, step_kind=str(failed_step.get("kind") or ""))


def offline_summary(excerpt: Excerpt, failed_step: dict[str, Any], state_name: str) -> SummaryResult:
    """An honest rule-based summary from the evidence: the failed step, a category, the key lines, a generic fix."""
    key_texts = [text for _, text in excerpt.key_lines]
    verdict = rules_verdict(excerpt, failed_step)
    step_label = failed_step.get("task_slug") or failed_step.get("label") or "a step"
    # Quote messages, not their timestamps and levels; the two best lines usually hold error and detail.
    messages = list(dict.fromkeys(strip_log_prefix(text) for text in key_texts[:2]))
    first_line = "; ".join(messages) if messages else (excerpt.structured[0] if excerpt.structured else "")
    where = f"The step '{step_label}' {'crashed' if state_name == 'Crashed' else 'failed'}"
    summary = f"{where}. {verdict.title}."
    if first_line:
        summary += f" The first error in its log says: {first_line[:300]}"
    else:
        summary += " Its log holds no error line; the run's state message is all the evidence there is."
    return SummaryResult(
        title=f"{step_label}: {verdict.title}"[:300],
        summary=summary,
        root_cause=first_line[:2000] or verdict.title,
        category=verdict.category,
        fix_steps=list(verdict.fix_steps),
        evidence=key_line_evidence(excerpt),
        is_transient=verdict.is_transient,
        confidence=None,
        provider="offline",
        model="rules",
        prompt_version=OFFLINE_PROMPT_VERSION,
        tokens_in=excerpt.tokens_out,
        tokens_out=0,
        latency_ms=0,
    )


NO_LLM_CONFIGURED = "no LLM is configured"


def summarize_logs(
    *, org: Org | None, excerpt: Excerpt, failed_step: dict[str, Any], run_name: str = "", state_name: str = ""
) -> SummaryResult:
    """Turn a condensed, redacted excerpt into a validated structured summary (one LLM call at most)."""
    refusal = llm_refusal(org) if llm_configured() else NO_LLM_CONFIGURED
    if refusal:
        offline = offline_summary(excerpt, failed_step, state_name)
        offline.offline_reason = refusal
        return offline
    messages = build_messages(excerpt, failed_step, run_name=run_name, state_name=state_name)
    prompt = messages[-1]["content"]
    try:
        # One of LLM_MAX_CONCURRENCY slots shared by every cluster: the provider's limits are per account.
        with llm_slot():
            answer = chat_json(messages, schema=SUMMARY_SCHEMA, end_user=org.slug)
        parsed = parse_summary(answer.content)
    except LlmError as exc:
        return with_llm_error(offline_summary(excerpt, failed_step, state_name), exc, exc.transient, prompt)
    except SummaryFormatError as exc:
        # At temperature 0 the same request gets the same malformed answer: not worth a retry.
        return with_llm_error(offline_summary(excerpt, failed_step, state_name), exc, False, prompt)
    grounding = ground_answer(parsed, excerpt, rules_verdict(excerpt, failed_step))
    return SummaryResult(
        title=parsed["title"],
        summary=parsed["summary"],
        root_cause=parsed["root_cause"],
        category=grounding.category,
        fix_steps=parsed["fix_steps"],
        evidence=grounding.evidence,
        is_transient=parsed["is_transient"],
        confidence=grounding.confidence,
        grounded=grounding.grounded,
        model_category=grounding.model_category,
        response_format=answer.response_format,
        provider="openai",
        model=answer.model or settings.LLM_MODEL,
        prompt_version=PROMPT_VERSION,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        latency_ms=answer.latency_ms,
        prompt=prompt,
    )


def with_llm_error(fallback: SummaryResult, exc: Exception, transient: bool, prompt: str) -> SummaryResult:
    """The offline summary, marked with why the model's was not used and whether a retry may help."""
    fallback.llm_error = str(exc)
    fallback.llm_error_transient = transient
    fallback.retry_after = getattr(exc, "retry_after", None)
    fallback.prompt = prompt
    return fallback
