"""Turns a webhook body into a notification: Dalgo's text body, a flow-run JSON string, or Prefect's automation JSON.

Anything else is a NotificationParseError with a reason the sender can act on (the API answers 400).
"""

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ddpui.models.vocabulary import BodyFormat, PrefectState

# Prefect's custom-webhook message. The name is greedy so a user-named run may contain " with id " too;
# the id is the last UUID before " entered state".
TEXT_BODY = re.compile(
    r"^\s*Flow run (?P<name>.*) with id (?P<id>[0-9a-fA-F-]{36}) entered state (?P<state>[A-Za-z_][A-Za-z_ ]*?)\s*[.!]?\s*$",
    re.DOTALL,
)
STATE_NAME = re.compile(r"^[A-Za-z_][A-Za-z_ ]{0,63}$")
MAX_FIELD_CHARS = 255
# Deeper bodies are refused (400) before they are redacted and stored.
MAX_PAYLOAD_DEPTH = 64

# Prefect state names -> types, for bodies that carry only a name (Dalgo adds DBT_TEST_FAILED).
STATE_TYPE_BY_NAME = {
    PrefectState.FAILED.value: "FAILED",
    PrefectState.CRASHED.value: "CRASHED",
    PrefectState.TIMED_OUT.value: "FAILED",
    PrefectState.COMPLETED.value: "COMPLETED",
    PrefectState.DBT_TEST_FAILED.value: "COMPLETED",
    PrefectState.CANCELLED.value: "CANCELLED",
    PrefectState.CANCELLING.value: "CANCELLING",
    PrefectState.PENDING.value: "PENDING",
    PrefectState.RUNNING.value: "RUNNING",
    PrefectState.RETRYING.value: "RUNNING",
    PrefectState.SCHEDULED.value: "SCHEDULED",
    PrefectState.AWAITING_RETRY.value: "SCHEDULED",
    PrefectState.LATE.value: "SCHEDULED",
    PrefectState.PAUSED.value: "PAUSED",
}


class NotificationParseError(ValueError):
    """The body is not a notification we understand; the message says why."""


@dataclass
class ParsedNotification:
    """What one webhook delivery tells us."""

    flow_run_id: str
    state_name: str
    state_type: str
    body_format: str
    flow_run_name: str = ""
    event_id: str | None = None
    parent_task_run_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        """A repeated delivery has the same key: the event id, else the flow run and its state."""
        if self.event_id:
            return f"event:{self.event_id}"
        return f"state:{self.flow_run_id}:{self.state_name}"


def canonical_uuid(value: Any, what: str) -> str:
    """The lower-case canonical form of a UUID, or a parse error naming the field."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotificationParseError(f"{what} is not a UUID") from exc


def optional_uuid(value: Any, what: str) -> str | None:
    """Like canonical_uuid, but null, empty and "None" (Jinja's rendering of None) mean absent."""
    if value in (None, "", "None", "null"):
        return None
    return canonical_uuid(value, what)


def checked_state_name(value: Any) -> str:
    """A state name: letters, underscores and spaces only."""
    if not isinstance(value, str) or not STATE_NAME.match(value.strip()):
        raise NotificationParseError("state_name is missing or not a Prefect state name")
    return value.strip()


def short_text(value: Any) -> str:
    """A display string cut to the column size."""
    return value[:MAX_FIELD_CHARS] if isinstance(value, str) else ""


def parse_text_body(text: str, payload: dict[str, Any]) -> ParsedNotification:
    """Dalgo's custom-webhook message: `Flow run <name> with id <uuid> entered state <State>`."""
    match = TEXT_BODY.match(text)
    if not match:
        raise NotificationParseError("body is not 'Flow run <name> with id <uuid> entered state <State>'")
    state_name = checked_state_name(match["state"])
    return ParsedNotification(
        flow_run_id=canonical_uuid(match["id"], "flow run id"),
        state_name=state_name,
        state_type=STATE_TYPE_BY_NAME.get(state_name, ""),
        body_format=BodyFormat.TEXT,
        flow_run_name=short_text(match["name"]),
        payload=payload,
    )


def parse_flow_run_object(flow_run: dict[str, Any], payload: dict[str, Any]) -> ParsedNotification:
    """`body` as a JSON string of a flow run: {"id", "name", "state": {"name", "type", "state_details": {...}}}."""
    state = flow_run.get("state")
    if not isinstance(state, dict):
        raise NotificationParseError("flow run JSON has no state object")
    details = state.get("state_details") if isinstance(state.get("state_details"), dict) else {}
    flow_run_id = canonical_uuid(flow_run.get("id") or details.get("flow_run_id"), "flow run id")
    if (
        details.get("flow_run_id")
        and canonical_uuid(details["flow_run_id"], "state_details.flow_run_id") != flow_run_id
    ):
        raise NotificationParseError("flow run id and state_details.flow_run_id differ")
    state_name = checked_state_name(state.get("name") or flow_run.get("state_name"))
    state_type = state.get("type") if isinstance(state.get("type"), str) else STATE_TYPE_BY_NAME.get(state_name, "")
    return ParsedNotification(
        flow_run_id=flow_run_id,
        state_name=state_name,
        state_type=short_text(state_type).upper()[:20],
        body_format=BodyFormat.FLOW_RUN_JSON,
        flow_run_name=short_text(flow_run.get("name")),
        parent_task_run_id=optional_uuid(flow_run.get("parent_task_run_id"), "parent_task_run_id"),
        payload=payload,
    )


def parse_automation_body(data: dict[str, Any]) -> ParsedNotification:
    """Prefect's automation JSON (our setup command's template): flow_run_id, state_name, state_type, event_id, ..."""
    state_name = checked_state_name(data.get("state_name"))
    state_type = data.get("state_type")
    if state_type is not None and not isinstance(state_type, str):
        raise NotificationParseError("state_type must be a string")
    event_id = data.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise NotificationParseError("event_id must be a string")
    return ParsedNotification(
        flow_run_id=canonical_uuid(data.get("flow_run_id"), "flow_run_id"),
        state_name=state_name,
        state_type=(state_type or STATE_TYPE_BY_NAME.get(state_name, "")).upper()[:20],
        body_format=BodyFormat.AUTOMATION_JSON,
        flow_run_name=short_text(data.get("flow_run_name")),
        event_id=optional_uuid(event_id, "event_id") if event_id else None,
        parent_task_run_id=optional_uuid(data.get("parent_task_run_id"), "parent_task_run_id"),
        payload=data,
    )


def nesting_or_number_problem(data: Any) -> str | None:
    """Why a parsed body cannot be stored, found by an explicit-stack walk (no recursion), or None:
    lists/dicts nested deeper than MAX_PAYLOAD_DEPTH (the stored payload is redacted by a recursive walk, which
    such a body would exhaust), or NaN/Infinity (Python's JSON parser accepts them, PostgreSQL's jsonb does not)."""
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return "body holds NaN or Infinity, which are not JSON numbers"
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, (list, tuple)):
            if depth >= MAX_PAYLOAD_DEPTH:
                return f"body nests deeper than {MAX_PAYLOAD_DEPTH} levels"
            stack.extend((child, depth + 1) for child in item)
    return None


def check_storable(data: Any) -> None:
    """Refuse what PostgreSQL or our redaction cannot take: deep nesting, NaN/Infinity, lone surrogates
    (escaped in JSON as \\udcff) and NUL characters."""
    problem = nesting_or_number_problem(data)
    if problem:
        raise NotificationParseError(problem)
    try:
        text = json.dumps(data, ensure_ascii=False)
        text.encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError) as exc:
        raise NotificationParseError("body holds text that is not valid Unicode") from exc
    if "\x00" in text or "\\u0000" in text:
        raise NotificationParseError("body holds NUL characters")


def parse_notification(raw: bytes) -> ParsedNotification:
    """Parse a webhook body (bytes) into a ParsedNotification, or raise NotificationParseError."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotificationParseError("body is not valid UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise NotificationParseError("body is not valid JSON") from exc
    check_storable(data)
    if not isinstance(data, dict):
        raise NotificationParseError("body must be a JSON object")
    if "flow_run_id" in data:
        return parse_automation_body(data)
    body = data.get("body")
    if isinstance(body, dict):
        return parse_flow_run_object(body, data)
    if not isinstance(body, str):
        raise NotificationParseError("expected a 'body' string or a 'flow_run_id' field")
    if body.lstrip().startswith("{"):
        try:
            flow_run = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise NotificationParseError("'body' looks like JSON but does not parse") from exc
        if not isinstance(flow_run, dict):
            raise NotificationParseError("'body' JSON must be an object")
        return parse_flow_run_object(flow_run, data)
    return parse_text_body(body, data)
