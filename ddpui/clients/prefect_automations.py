"""Prefect's block and automation API (through prefect-client): the webhook block and the automations that
call us. Read, create, update and delete only; deciding what should exist is ddpui.core.operations.prefect_setup's job.
"""

from uuid import UUID

from prefect.client.schemas.actions import BlockDocumentCreate, BlockDocumentUpdate
from prefect.client.schemas.objects import BlockDocument
from prefect.client.schemas.sorting import AutomationSort
from prefect.events.schemas.automations import Automation, AutomationCore
from prefect.exceptions import ObjectNotFound

from ddpui.clients.prefect import PrefectError, prefect_client

WEBHOOK_BLOCK_TYPE_SLUG = "webhook"


def health_problem() -> str | None:
    """None when the Prefect API answers its health check, else what went wrong."""
    try:
        with prefect_client() as client:
            problem = client.api_healthcheck()
    except PrefectError as exc:
        return str(exc)
    return f"{type(problem).__name__}: {problem}" if problem else None


def read_webhook_block(name: str) -> BlockDocument | None:
    """The Webhook block document of that name, secrets included (to compare them), or None."""
    with prefect_client() as client:
        try:
            return client.read_block_document_by_name(name, block_type_slug=WEBHOOK_BLOCK_TYPE_SLUG, include_secrets=True)
        except ObjectNotFound:
            return None


def create_webhook_block(name: str, data: dict) -> UUID:
    """Create a Webhook block document from the server's latest Webhook schema; returns its id."""
    with prefect_client() as client:
        block_type = client.read_block_type_by_slug(WEBHOOK_BLOCK_TYPE_SLUG)
        schema = client.get_most_recent_block_schema_for_block_type(block_type.id)
        if schema is None:
            raise PrefectError("the Prefect server has no schema for its Webhook block type")
        document = client.create_block_document(
            BlockDocumentCreate(name=name, data=data, block_type_id=block_type.id, block_schema_id=schema.id)
        )
        return document.id


def replace_webhook_block_data(block_id: UUID, data: dict) -> None:
    """Replace (not merge) a Webhook block document's data, so a header we no longer send disappears."""
    with prefect_client() as client:
        client.update_block_document(block_id, BlockDocumentUpdate(data=data, merge_existing_data=False))


def automations_filter_body(name: str) -> dict:
    """The body of POST /automations/filter for one name, holding only the fields every Prefect 3 server knows.

    prefect-client's own `read_automations_by_name` dumps its whole AutomationFilter, and prefect-client 3.9 added
    an `id` member that Prefect server 3.6 (Dalgo's version) rejects with 422 `extra_forbidden`.
    """
    return {"sort": AutomationSort.UPDATED_DESC.value, "automations": {"name": {"any_": [name]}}}


def read_automations_named(name: str) -> list[Automation]:
    """Every automation with exactly that name (names are not unique in Prefect), most recently updated first."""
    with prefect_client() as client:
        response = client.request("POST", "/automations/filter", json=automations_filter_body(name))
        response.raise_for_status()
        return [automation for automation in Automation.model_validate_list(response.json()) if automation.name == name]


def create_automation(automation: AutomationCore) -> UUID:
    """Create an automation; returns its id."""
    with prefect_client() as client:
        return client.create_automation(automation)


def replace_automation(automation_id: UUID, automation: AutomationCore) -> None:
    """Overwrite an automation's definition (PUT)."""
    with prefect_client() as client:
        client.update_automation(automation_id, automation)


def delete_automation(automation_id: UUID) -> None:
    """Delete an automation (a duplicate of one we keep)."""
    with prefect_client() as client:
        client.delete_automation(automation_id)
