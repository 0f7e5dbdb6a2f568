"""setup_prefect_webhook's logic against a REAL Prefect 3 server (from the cached prefect venv)."""

import pytest
from django.core.management import CommandError, call_command

from ddpui.clients import prefect_automations
from ddpui.core.operations.prefect_setup import (
    HEARTBEAT_AUTOMATION_NAME,
    NOTIFY_AUTOMATION_NAME,
    WEBHOOK_BLOCK_NAME,
    PrefectSetupError,
    check_prefect_webhook,
    notify_automation,
    setup_prefect_webhook,
)
from harness.prefect_server import launch_prefect_server, wait_for_prefect_server
from harness.prefect_venv import PrefectVenvUnavailable, ensure_prefect_venv
from harness.processes import ProcessStack, free_port

pytestmark = pytest.mark.timeout(300)

URL = "http://127.0.0.1:8002/webhooks/v1/notification/"
KEY = "setup-test-key-8c1e"


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server for this module; skipped when the prefect venv cannot be built."""
    try:
        python = ensure_prefect_venv()
    except PrefectVenvUnavailable as exc:
        pytest.skip(f"no real Prefect server: the prefect virtualenv cannot be built (no network to PyPI?): {exc}")
    stack = ProcessStack(tmp_path_factory.mktemp("prefect-setup"))
    try:
        server = launch_prefect_server(stack, python)
        wait_for_prefect_server(server)
        yield server
    finally:
        stack.stop_all()


@pytest.fixture
def prefect(prefect_server, settings):
    """Settings pointed at the real server, with a webhook key; every test starts with nothing configured."""
    settings.PREFECT_API_URL = prefect_server.api_url
    settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY = KEY
    for name in (NOTIFY_AUTOMATION_NAME, HEARTBEAT_AUTOMATION_NAME):
        for automation in prefect_automations.read_automations_named(name):
            prefect_automations.delete_automation(automation.id)
    block = prefect_automations.read_webhook_block(WEBHOOK_BLOCK_NAME)
    if block is not None:
        prefect_automations.replace_webhook_block_data(block.id, {"url": "http://127.0.0.1:1/stale/", "headers": {}})
    return prefect_server


def actions(outcomes) -> list[str]:
    """The action of each outcome, in order."""
    return [outcome.action for outcome in outcomes]


def test_first_run_creates_then_second_changes_nothing(prefect):
    """Block and automation are made once; a second run leaves both as they are."""
    first = setup_prefect_webhook(URL)
    assert actions(first)[1] == "created"
    second = setup_prefect_webhook(URL)
    assert actions(second) == ["unchanged", "unchanged"]
    assert len(prefect_automations.read_automations_named(NOTIFY_AUTOMATION_NAME)) == 1


def test_block_holds_url_key_and_json_content_type(prefect):
    """The Webhook block POSTs our URL with the key and Content-Type: application/json."""
    setup_prefect_webhook(URL)
    block = prefect_automations.read_webhook_block(WEBHOOK_BLOCK_NAME)
    assert block.data["url"] == URL and block.data["method"] == "POST"
    assert block.data["headers"] == {"X-Notification-Key": KEY, "Content-Type": "application/json"}


def test_automation_calls_the_block_on_every_terminal_state(prefect):
    """The automation reacts to Failed, Crashed, TimedOut, Completed and Cancelled runs with our template."""
    setup_prefect_webhook(URL)
    (automation,) = prefect_automations.read_automations_named(NOTIFY_AUTOMATION_NAME)
    block = prefect_automations.read_webhook_block(WEBHOOK_BLOCK_NAME)
    expected = {f"prefect.flow-run.{s}" for s in ("Failed", "Crashed", "TimedOut", "Completed", "Cancelled")}
    assert expected <= set(automation.trigger.expect)
    (action,) = automation.actions
    assert action.type == "call-webhook" and action.block_document_id == block.id
    assert '"flow_run_id": "{{ flow_run.id }}"' in action.payload


def test_changed_url_or_key_updates_the_block_in_place(prefect, settings):
    """A new URL or key updates the same block; the automation is left alone."""
    first = setup_prefect_webhook(URL)
    settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY = "rotated-key"
    second = setup_prefect_webhook(URL.replace("8002", "8003"))
    assert actions(second) == ["updated", "unchanged"] and second[0].object_id == first[0].object_id
    assert "url" in second[0].detail and "headers" in second[0].detail
    assert prefect_automations.read_webhook_block(WEBHOOK_BLOCK_NAME).data["headers"]["X-Notification-Key"] == "rotated-key"


def test_edited_automation_is_restored_and_duplicates_removed(prefect):
    """An automation edited by hand is put back; a duplicate of the same name is deleted."""
    setup_prefect_webhook(URL)
    (automation,) = prefect_automations.read_automations_named(NOTIFY_AUTOMATION_NAME)
    edited = notify_automation(prefect_automations.read_webhook_block(WEBHOOK_BLOCK_NAME).id)
    edited.actions[0].payload = "{}"
    prefect_automations.replace_automation(automation.id, edited)
    prefect_automations.create_automation(edited)
    outcome = setup_prefect_webhook(URL)[1]
    assert outcome.action == "updated" and "duplicate" in outcome.detail
    (restored,) = prefect_automations.read_automations_named(NOTIFY_AUTOMATION_NAME)
    assert '"flow_run_id"' in restored.actions[0].payload


def test_heartbeat_guard_is_optional_and_idempotent(prefect):
    """--with-heartbeat-guard adds a proactive automation that marks silent runs Crashed, once."""
    setup_prefect_webhook(URL)
    assert not prefect_automations.read_automations_named(HEARTBEAT_AUTOMATION_NAME)
    assert actions(setup_prefect_webhook(URL, heartbeat_guard=True))[2] == "created"
    assert actions(setup_prefect_webhook(URL, heartbeat_guard=True))[2] == "unchanged"
    (guard,) = prefect_automations.read_automations_named(HEARTBEAT_AUTOMATION_NAME)
    assert guard.trigger.posture == "Proactive" and guard.actions[0].state.value == "CRASHED"


def test_check_reports_missing_then_configured(prefect):
    """check_prefect_webhook is false before setup, true after, false when the URL differs."""
    configured, outcomes = check_prefect_webhook(URL)
    assert not configured
    setup_prefect_webhook(URL)
    assert check_prefect_webhook(URL)[0]
    configured, outcomes = check_prefect_webhook(URL.replace("8002", "9999"))
    assert not configured and "url" in outcomes[1].detail


def test_unreachable_prefect_is_reported(settings):
    """No server at PREFECT_API_URL: setup raises, check says unreachable."""
    settings.PREFECT_API_URL = f"http://127.0.0.1:{free_port()}/api"
    settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY = KEY
    with pytest.raises(PrefectSetupError, match="not reachable"):
        setup_prefect_webhook(URL)
    configured, outcomes = check_prefect_webhook()
    assert not configured and outcomes[0].action == "unreachable"


def test_missing_key_is_refused(prefect, settings):
    """Without PREFECT_NOTIFICATIONS_WEBHOOK_KEY the setup refuses: our webhook would refuse every call."""
    settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY = ""
    with pytest.raises(PrefectSetupError, match="PREFECT_NOTIFICATIONS_WEBHOOK_KEY"):
        setup_prefect_webhook(URL)


def test_command_prints_outcomes_without_the_key(prefect, capsys):
    """The command prints one line per object and never the key; --check exits non-zero until configured."""
    with pytest.raises(CommandError):
        call_command("setup_prefect_webhook", "--check", skip_checks=True)
    call_command("setup_prefect_webhook", "--url", URL, skip_checks=True)
    call_command("setup_prefect_webhook", "--url", URL, skip_checks=True)
    call_command("setup_prefect_webhook", "--check", skip_checks=True)
    output = capsys.readouterr().out
    assert "created" in output and "unchanged" in output and "configured" in output
    assert KEY not in output
