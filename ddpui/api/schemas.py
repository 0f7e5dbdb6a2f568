"""The JSON shapes the read API serves."""

from datetime import datetime
from typing import Any

from ninja import ModelSchema, Schema

from ddpui.core.summaries.public import public_error, public_value
from ddpui.models import STRUCTURED_SUMMARY_FIELDS, LlmSession


class EvidenceLine(Schema):
    """One redacted log line that shows the cause, with its line number in the original log."""

    line: int
    text: str


class SummaryOut(ModelSchema):
    """A stored failure summary, or its pending/failed status: the structured summary's fields (taken from the
    model, STRUCTURED_SUMMARY_FIELDS) and where it belongs."""

    id: str
    flow_run_id: str
    status: str
    failed_step: dict[str, Any]
    fix_steps: list[str]
    evidence: list[EvidenceLine]
    fingerprint: str
    reused_from: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    class Meta:
        model = LlmSession
        fields = list(STRUCTURED_SUMMARY_FIELDS)


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
    shown = {name: public_value(getattr(session, name)) for name in STRUCTURED_SUMMARY_FIELDS}
    shown["evidence"] = [line for line in shown["evidence"] if isinstance(line, dict) and line.get("text")]
    return {
        **shown,
        "id": str(session.public_id),
        "flow_run_id": session.flow_run_id,
        "status": session.status,
        "failed_step": public_value(session.failed_step),
        "fingerprint": session.fingerprint,
        "reused_from": reused_from_info(session),
        "error": public_error(session.last_error),
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }
