"""Handler step: upsert the PrefectFlowRun row and take or release the task locks, by the run's state."""

from django.db import transaction

from ddpui.core.flow_runs import FlowRunInfo, org_of
from ddpui.models import OrgTask, PrefectFlowRun, TaskLock
from ddpui.models.vocabulary import PrefectState

LOCKING_STATE_NAMES = frozenset({PrefectState.PENDING, PrefectState.SCHEDULED})


def upsert_flow_run(info: FlowRunInfo) -> PrefectFlowRun:
    """Create or update Dalgo's record of a deployment's flow run."""
    defaults = {
        "deployment_id": info.deployment_id or "",
        "name": info.name,
        "status": info.state_type,
        "state_name": info.state_name,
        "total_run_time": info.total_run_time,
        "retries": max(info.run_count - 1, 0),
    }
    for field in ("start_time", "end_time", "expected_start_time"):
        value = getattr(info, field)
        if value is not None:
            defaults[field] = value
    row, _ = PrefectFlowRun.objects.update_or_create(flow_run_id=info.id, defaults=defaults)
    return row


def org_tasks_of_run(info: FlowRunInfo) -> list[OrgTask]:
    """The OrgTasks the run's pipeline names (by orgtask_uuid), within the run's org."""
    uuids = [t.get("orgtask_uuid") for t in info.dalgo_tasks if t.get("orgtask_uuid")]
    org = org_of(info)
    if not uuids or org is None:
        return []
    return list(OrgTask.objects.filter(org=org, uuid__in=uuids))


def release_locks(flow_run_id: str) -> int:
    """Drop every lock this flow run holds; returns how many."""
    deleted, _ = TaskLock.objects.filter(flow_run_id=flow_run_id).delete()
    return deleted


def take_locks(info: FlowRunInfo) -> int:
    """Lock the run's org tasks for it; a task locked by another run keeps that lock."""
    taken = 0
    for orgtask in org_tasks_of_run(info):
        _, created = TaskLock.objects.get_or_create(orgtask=orgtask, defaults={"flow_run_id": info.id})
        taken += int(created)
    return taken


def record_flow_run_state(info: FlowRunInfo) -> str:
    """Step 2 of the handler: the flow-run row and the locks. Runs without a deployment are not recorded."""
    if not info.deployment_id:
        return "no deployment: nothing to record"
    with transaction.atomic():
        upsert_flow_run(info)
        if info.is_terminal:
            return f"recorded, released {release_locks(info.id)} lock(s)"
        if info.state_name in LOCKING_STATE_NAMES:
            return f"recorded, took {take_locks(info)} lock(s)"
    return "recorded"
