"""Parsing the three body shapes; everything else is a clear NotificationParseError."""

import json
import uuid

import pytest

from ddpui.core.webhooks.parse import NotificationParseError, parse_notification

RUN_ID = str(uuid.uuid4())


def body(data) -> bytes:
    """JSON-encode a body."""
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "name",
    ["crimson-owl", "nightly_sync.v2", "my pipeline run with spaces", "run with id in its name", "ümlaut-run"],
)
def test_text_body_with_any_run_name(name):
    parsed = parse_notification(body({"body": f"Flow run {name} with id {RUN_ID} entered state Failed"}))
    assert (parsed.flow_run_id, parsed.state_name, parsed.state_type) == (RUN_ID, "Failed", "FAILED")
    assert parsed.flow_run_name == name
    assert parsed.body_format == "text"
    assert parsed.dedupe_key == f"state:{RUN_ID}:Failed"


def test_text_body_uppercase_uuid_is_canonical_and_timedout_is_failed_type():
    parsed = parse_notification(body({"body": f"Flow run x with id {RUN_ID.upper()} entered state TimedOut."}))
    assert parsed.flow_run_id == RUN_ID
    assert (parsed.state_name, parsed.state_type) == ("TimedOut", "FAILED")


def test_flow_run_json_string_body():
    flow_run = {"id": RUN_ID, "name": "a-run", "state": {"name": "Crashed", "type": "CRASHED",
                                                          "state_details": {"flow_run_id": RUN_ID}}}
    parsed = parse_notification(body({"body": json.dumps(flow_run)}))
    assert (parsed.flow_run_id, parsed.state_name, parsed.state_type, parsed.body_format) == (
        RUN_ID, "Crashed", "CRASHED", "flow_run_json")


def test_automation_body_with_event_id_and_parent():
    event_id, parent = str(uuid.uuid4()), str(uuid.uuid4())
    parsed = parse_notification(body({
        "event": "prefect.flow-run.Failed", "event_id": event_id, "flow_run_id": RUN_ID, "flow_run_name": "r",
        "deployment_id": "None", "parent_task_run_id": parent, "state_type": "FAILED", "state_name": "Failed",
        "state_message": "boom", "parameters": {"config": {}},
    }))
    assert parsed.event_id == event_id and parsed.parent_task_run_id == parent
    assert parsed.dedupe_key == f"event:{event_id}"
    assert parsed.body_format == "automation_json"


def test_automation_body_renders_none_as_absent():
    parsed = parse_notification(body({"flow_run_id": RUN_ID, "state_name": "Completed", "parent_task_run_id": "None"}))
    assert parsed.parent_task_run_id is None and parsed.state_type == "COMPLETED"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (body({"hello": 1}), "expected a 'body'"),
        (body({"body": "Flow run x entered state Failed"}), "Flow run <name>"),
        (body({"body": "Flow run x with id 12345678-1234-1234-1234-1234567890a- entered state Failed"}), "UUID"),
        (body({"body": "{broken json"}), "does not parse"),
        (body({"body": json.dumps({"id": RUN_ID})}), "no state"),
        (body({"flow_run_id": "nope", "state_name": "Failed"}), "UUID"),
        (body({"flow_run_id": RUN_ID, "state_name": 5}), "state_name"),
        (body({"flow_run_id": RUN_ID, "state_name": "Failed; DROP TABLE"}), "state_name"),
        (body({"flow_run_id": RUN_ID, "state_name": "Failed", "state_type": []}), "state_type"),
        ("{\"body\": \"\udcff\"}".encode("utf-8", "surrogatepass"), "UTF-8"),
        (b'{"body": "Flow run \\udcff with id ' + RUN_ID.encode() + b' entered state Failed"}', "Unicode"),
        (b'{"body": "Flow run \\u0000 with id ' + RUN_ID.encode() + b' entered state Failed"}', "NUL"),
        (b"[" * 100000, "JSON"),
        (body({"flow_run_id": RUN_ID, "state_name": "Failed", "p": json.loads("[" * 80 + "]" * 80)}), "deeper"),
        (('{"flow_run_id": "%s", "state_name": "Failed", "x": NaN}' % RUN_ID).encode(), "NaN"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(raw, reason):
    with pytest.raises(NotificationParseError, match=reason):
        parse_notification(raw)
