"""The JSON shapes the read API serves."""

from datetime import datetime
from typing import Any

from ninja import Schema

from ddpui.core.summaries.public import public_error, public_text, public_value
from ddpui.models import LlmSession


class EvidenceLine(Schema):
    """One redacted log line that shows the cause, with its line number in the original log."""

    line: int
    text: str


class SummaryOut(Schema):
    """A stored failure summary, or its pending/failed status."""

    id: str
    flow_run_id: str
    status: str
    failed_step: dict[str, Any]
    title: str
    summary: str
    root_cause: str
    category: str
    fix_steps: list[str]
    evidence: list[EvidenceLine]
    is_transient: bool | None
    confidence: float | None
    provider: str
    model: str
    prompt_version: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: int | None
    fingerprint: str
    reused_from: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class PendingOut(Schema):
    """No summary yet: the run's failure is known and its summary is being made."""

    flow_run_id: str
    status: str


class ErrorOut(Schema):
    """An error with a reason."""

    detail: str


def reused_from_info(session: LlmSession) -> dict[str, Any] | None:
    """"Same failure as run X on date", for a summary reused from an earlier one."""
    source = session.reused_from
    if source is None:
        return None
    when = source.created_at.date().isoformat()
    return {
        "id": str(source.public_id),
        "flow_run_id": source.flow_run_id,
        "created_at": source.created_at.isoformat(),
        "message": f"Same failure as run {source.flow_run_id or source.airbyte_job_id} on {when}",
    }


def summary_out(session: LlmSession) -> dict[str, Any]:
    """A session as SummaryOut data: no traceback, server path or internal address in any of its text."""
    return {
        "id": str(session.public_id),
        "flow_run_id": session.flow_run_id,
        "status": session.status,
        "failed_step": public_value(session.failed_step),
        "title": public_text(session.title),
        "summary": public_text(session.summary),
        "root_cause": public_text(session.root_cause),
        "category": session.category,
        "fix_steps": public_value(session.fix_steps),
        "evidence": [line for line in public_value(session.evidence) if isinstance(line, dict) and line.get("text")],
        "is_transient": session.is_transient,
        "confidence": session.confidence,
        "provider": session.provider,
        "model": session.model,
        "prompt_version": session.prompt_version,
        "tokens_in": session.tokens_in,
        "tokens_out": session.tokens_out,
        "latency_ms": session.latency_ms,
        "fingerprint": session.fingerprint,
        "reused_from": reused_from_info(session),
        "error": public_error(session.last_error),
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }
