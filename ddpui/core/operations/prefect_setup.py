"""Configures Prefect to call our webhook, idempotently: a Webhook block (our URL and key) and an automation
that POSTs our JSON body on every terminal flow-run state; optionally a heartbeat guard that marks runs whose
process died without a word (SIGKILL, lost machine) as Crashed, so they reach us too.

Every `ensure_*` compares what the server holds with what it should hold and creates, updates or leaves it;
running the setup twice changes nothing the second time. Secret values (the key, the URL) are compared, never
returned in an outcome.
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from prefect.client.schemas.objects import StateType
from prefect.events.actions import CallWebhook, ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

from ddpui.clients import prefect_automations
from ddpui.models.vocabulary import PrefectState

WEBHOOK_BLOCK_NAME = "dalgo-failure-summaries"
NOTIFY_AUTOMATION_NAME = "dalgo-failure-summaries: notify on flow run end"
HEARTBEAT_AUTOMATION_NAME = "dalgo-failure-summaries: crash runs that stopped sending heartbeats"

# Terminal states. DBT_TEST_FAILED is Dalgo's own COMPLETED-type state: without it such a run's task locks
# would never be released.
NOTIFY_STATE_NAMES = (
    PrefectState.FAILED.value,
    PrefectState.CRASHED.value,
    PrefectState.TIMED_OUT.value,
    PrefectState.COMPLETED.value,
    PrefectState.CANCELLED.value,
    PrefectState.DBT_TEST_FAILED.value,
)

# The body parse_automation_body reads. Prefect renders it with Jinja; `tojson` fails on UUIDs and datetimes
# and then nothing is sent at all, so those are quoted strings ("None" when absent, which the parser accepts).
AUTOMATION_PAYLOAD_TEMPLATE = """{
  "event": "{{ event.event }}",
  "event_id": "{{ event.id }}",
  "flow_run_id": "{{ flow_run.id }}",
  "flow_run_name": {{ flow_run.name | tojson }},
  "deployment_id": "{{ flow_run.deployment_id }}",
  "parent_task_run_id": "{{ flow_run.parent_task_run_id }}",
  "state_type": "{{ flow_run.state.type.value }}",
  "state_name": {{ flow_run.state.name | tojson }},
  "state_message": {{ flow_run.state.message | tojson }},
  "start_time": "{{ flow_run.start_time }}",
  "end_time": "{{ flow_run.end_time }}",
  "parameters": {{ flow_run.parameters | tojson }}
}"""

# A runner sends a heartbeat every PREFECT_RUNNER_HEARTBEAT_FREQUENCY seconds (when set); this many seconds of
# silence after one means the process is gone.
HEARTBEAT_SILENCE = timedelta(seconds=90)
FLOW_RUN_END_EVENTS = tuple(
    f"prefect.flow-run.{name}"
    for name in (PrefectState.COMPLETED, PrefectState.FAILED, PrefectState.CANCELLED, PrefectState.CRASHED)
)


@dataclass
class Outcome:
    """What the setup did to one Prefect object: created, updated, unchanged, or (in a check) ok / missing."""

    item: str
    action: str
    detail: str = ""
    object_id: str = ""

    def __str__(self) -> str:
        ident = f" ({self.object_id})" if self.object_id else ""
        return f"{self.item}{ident}: {self.action}" + (f" - {self.detail}" if self.detail else "")


class PrefectSetupError(RuntimeError):
    """Prefect cannot be configured (unreachable, or our own settings are incomplete)."""


def webhook_block_data(url: str) -> dict[str, Any]:
    """The Webhook block's data: POST to our URL with the key and a JSON content type.

    Without the explicit Content-Type, Prefect sends none and the body is not read as JSON by some servers.
    """
    key = settings.PREFECT_NOTIFICATIONS_WEBHOOK_KEY
    if not key:
        raise PrefectSetupError("PREFECT_NOTIFICATIONS_WEBHOOK_KEY is not set: our webhook would refuse every call")
    return {
        "method": "POST",
        "url": url,
        "headers": {"X-Notification-Key": key, "Content-Type": "application/json"},
        "allow_private_urls": True,
        "verify": True,
    }


def notify_automation(block_id: UUID) -> AutomationCore:
    """The automation that calls our webhook once per terminal flow-run state."""
    return AutomationCore(
        name=NOTIFY_AUTOMATION_NAME,
        description="POSTs Dalgo's failure-summary webhook when a flow run ends (managed by setup_prefect_webhook).",
        enabled=True,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            expect={f"prefect.flow-run.{name}" for name in NOTIFY_STATE_NAMES},
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=AUTOMATION_PAYLOAD_TEMPLATE)],
    )


def heartbeat_guard_automation() -> AutomationCore:
    """The automation that marks a run Crashed when its heartbeats stop before it ended."""
    return AutomationCore(
        name=HEARTBEAT_AUTOMATION_NAME,
        description="Marks a flow run Crashed after missed heartbeats (managed by setup_prefect_webhook).",
        enabled=True,
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *FLOW_RUN_END_EVENTS},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=HEARTBEAT_SILENCE,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"Flow run marked as crashed: no heartbeat for {int(HEARTBEAT_SILENCE.total_seconds())} s.",
            )
        ],
    )


def canonical(value: Any) -> Any:
    """A JSON value with lists of scalars sorted, so that set-valued fields compare equal in any order."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [canonical(item) for item in value]
        if all(isinstance(item, (str, int, float, bool)) or item is None for item in items):
            return sorted(items, key=json.dumps)
        return items
    return value


def definition_of(automation: AutomationCore) -> dict[str, Any]:
    """The fields we manage, in a comparable form (ids and server-side bookkeeping left out)."""
    data = AutomationCore.model_validate(automation.model_dump(mode="json")).model_dump(
        mode="json", include={"name", "description", "enabled", "trigger", "actions"}
    )
    return canonical(data)


def ensure_webhook_block(url: str) -> tuple[Outcome, UUID]:
    """Create the Webhook block, or bring its URL and headers up to date."""
    wanted = webhook_block_data(url)
    existing = prefect_automations.read_webhook_block(WEBHOOK_BLOCK_NAME)
    item = f"webhook block '{WEBHOOK_BLOCK_NAME}'"
    if existing is None:
        block_id = prefect_automations.create_webhook_block(WEBHOOK_BLOCK_NAME, wanted)
        return Outcome(item, "created", f"POST {url}", str(block_id)), block_id
    current = {name: existing.data.get(name) for name in wanted}
    if canonical(current) == canonical(wanted):
        return Outcome(item, "unchanged", f"POST {url}", str(existing.id)), existing.id
    changed = sorted(name for name in wanted if canonical(current[name]) != canonical(wanted[name]))
    prefect_automations.replace_webhook_block_data(existing.id, wanted)
    return Outcome(item, "updated", f"changed: {', '.join(changed)}", str(existing.id)), existing.id


def ensure_automation(wanted: AutomationCore) -> Outcome:
    """Create the automation, or bring it up to date; duplicates of the same name are removed."""
    item = f"automation '{wanted.name}'"
    existing = prefect_automations.read_automations_named(wanted.name)
    if not existing:
        return Outcome(item, "created", "", str(prefect_automations.create_automation(wanted)))
    keep, *duplicates = existing
    for duplicate in duplicates:
        prefect_automations.delete_automation(duplicate.id)
    removed = f"removed {len(duplicates)} duplicate(s)" if duplicates else ""
    if definition_of(keep) == definition_of(wanted):
        return Outcome(item, "updated" if duplicates else "unchanged", removed, str(keep.id))
    prefect_automations.replace_automation(keep.id, wanted)
    return Outcome(item, "updated", ", ".join(filter(None, ["definition replaced", removed])), str(keep.id))


def require_reachable() -> None:
    """Raise PrefectSetupError unless Prefect's API answers at PREFECT_API_URL."""
    problem = prefect_automations.health_problem()
    if problem:
        raise PrefectSetupError(f"Prefect at {settings.PREFECT_API_URL} is not reachable: {problem}")


def setup_prefect_webhook(url: str, *, heartbeat_guard: bool = False) -> list[Outcome]:
    """Make Prefect call `url` on every terminal flow-run state (and, optionally, guard heartbeats)."""
    require_reachable()
    block_outcome, block_id = ensure_webhook_block(url)
    outcomes = [block_outcome, ensure_automation(notify_automation(block_id))]
    if heartbeat_guard:
        outcomes.append(ensure_automation(heartbeat_guard_automation()))
    return outcomes


def check_prefect_webhook(url: str | None = None, *, heartbeat_guard: bool = False) -> tuple[bool, list[Outcome]]:
    """Whether Prefect is reachable and configured as the setup would leave it; changes nothing.

    Without `url`, any URL in the block passes; the key and content type must match our settings.
    """
    problem = prefect_automations.health_problem()
    if problem:
        return False, [Outcome(f"Prefect API {settings.PREFECT_API_URL}", "unreachable", problem)]
    outcomes = [Outcome(f"Prefect API {settings.PREFECT_API_URL}", "ok")]
    block = prefect_automations.read_webhook_block(WEBHOOK_BLOCK_NAME)
    block_item = f"webhook block '{WEBHOOK_BLOCK_NAME}'"
    if block is None:
        return False, [*outcomes, Outcome(block_item, "missing")]
    wanted = webhook_block_data(url or str(block.data.get("url") or ""))
    stale = sorted(name for name in wanted if canonical(block.data.get(name)) != canonical(wanted[name]))
    outcomes.append(
        Outcome(
            block_item, "differs" if stale else "ok", f"differs: {', '.join(stale)}" if stale else "", str(block.id)
        )
    )
    wanted_automations = [notify_automation(block.id)] + ([heartbeat_guard_automation()] if heartbeat_guard else [])
    for automation in wanted_automations:
        found = prefect_automations.read_automations_named(automation.name)
        item = f"automation '{automation.name}'"
        if not found:
            outcomes.append(Outcome(item, "missing"))
        elif definition_of(found[0]) != definition_of(automation):
            outcomes.append(Outcome(item, "differs", "run setup_prefect_webhook to update it", str(found[0].id)))
        else:
            outcomes.append(Outcome(item, "ok", "" if found[0].enabled else "disabled", str(found[0].id)))
    return all(outcome.action == "ok" for outcome in outcomes), outcomes
