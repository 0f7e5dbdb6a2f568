"""Dalgo-side records for harness runs: an org's data flows (one per served deployment) and org tasks, and the
Dalgo-shaped parameters a run of them gets. Needs Django set up; `using` names the database alias."""

import uuid

from ddpui.models import Org, OrgDataFlow, OrgTask
from harness.flows.catalog import STEP_SUCCEEDS

AIRBYTE_TASK_TYPE = "Airbyte Connection"
DBT_TASK_TYPE = "dbt Core Operation"
SHELL_TASK_TYPE = "Shell Operation"


def airbyte_step(connection_id: str) -> dict:
    """A sync of one connection (the flow's outcome comes from the Airbyte stand-in's job)."""
    return {"slug": "airbyte-sync", "type": AIRBYTE_TASK_TYPE, "connection_id": connection_id,
            "airbyte_server_block": "harness-airbyte-server"}


def dbt_step(slug: str, outcome: str = STEP_SUCCEEDS, *, failing_model: str = "") -> dict:
    """A dbt command step (`dbt-run`, `dbt-test`, ...) told how to end (and which model fails, if it does)."""
    step = {"slug": slug, "type": DBT_TASK_TYPE, "commands": [slug.replace("-", " ", 1)],
            "project_dir": "/data/dbt/ngo", "harness_outcome": outcome}
    if failing_model:
        step["harness_model"] = failing_model
    return step


def pipeline_parameters(org: Org, deployment_id: str, steps: list[dict], *, using: str = "default") -> dict:
    """`{"config": {...}}` for a run of the deployment; the data flow and one OrgTask per step are stored.

    Each step gets its `seq` (list order) and a new `orgtask_uuid`, as Dalgo's config carries them.
    """
    dataflow, _ = OrgDataFlow.objects.using(using).get_or_create(
        deployment_id=deployment_id, defaults={"org": org, "name": f"harness {deployment_id[:8]}"}
    )
    tasks = []
    for seq, step in enumerate(steps, 1):
        task = {**step, "seq": seq, "orgtask_uuid": str(uuid.uuid4())}
        orgtask = OrgTask.objects.using(using).create(
            uuid=task["orgtask_uuid"], org=org, task_slug=task["slug"], connection_id=task.get("connection_id")
        )
        orgtask.dataflows.add(dataflow)
        tasks.append(task)
    return {"config": {"org_slug": org.slug, "continue_on_sync_failure": False, "tasks": tasks}}
