"""On-demand summaries (Dalgo's logsummary endpoints): answer with a stored summary at once when there is one,
else create the row and queue the work; the UI then polls the row by its public id.

- A node the user clicked (a task run, a subflow run or its placeholder) that lies on a stored summary's failed
  path answers that summary: no second row, no model call. Any other id is checked against Prefect's task runs
  and subflows of that flow run; an id that is not one of them is refused, whoever's it is.
- An Airbyte job is summarized only if it is one of the connection's jobs we stored, and the connection one of
  the caller's org's tasks; otherwise nothing is read from Airbyte, stored or shown.
- `regenerate` cannot be used to spend money: a summary made less than SUMMARY_REGENERATE_MIN_SECONDS ago
  answers as it is, each org has SUMMARY_REGENERATE_DAILY_LIMIT regenerates a day, a regenerate under way is
  not started twice, and a failed one keeps the summary that was there.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ddpui.core.flow_runs import org_of, read_flow_run_from_prefect
from ddpui.core.summaries.locate import locate_failed_step, step_for_task_run
from ddpui.core.summaries.queue import enqueue_session_summary
from ddpui.core.summaries.selectors import failure_session, job_of_org_connection, ready_job_session, session_for_node
from ddpui.core.summaries.store import session_for_step
from ddpui.models import (
    LlmSession,
    Org,
    OrgUser,
    SummaryRegeneration,
    SummaryStatus,
)
from ddpui.models.vocabulary import StepKind, SummaryTrigger

REGENERATE_WINDOW = timedelta(days=1)


class NotInOrg(Exception):
    """The flow run or connection does not belong to the caller's org (the API answers 404)."""


class InvalidJob(Exception):
    """The job is not one of the connection's stored jobs, or the connection not a task of the caller's org."""


class RegenerateLimitReached(Exception):
    """The org used its regenerates for today and the row has no summary to show instead (the API answers 429)."""


def pending_expired(since, now=None) -> bool:
    """Whether work asked for at `since` has outlived Dalgo's progress lifetime (the UI stops waiting)."""
    if since is None:
        return True
    return since < (now or timezone.now()) - timedelta(seconds=settings.SUMMARY_PENDING_EXPIRY_SECONDS)


def made_recently(session: LlmSession) -> bool:
    """A ready summary made less than SUMMARY_REGENERATE_MIN_SECONDS ago (a regenerate answers it as it is)."""
    made = session.ready_at or session.updated_at
    return made is not None and made > timezone.now() - timedelta(seconds=settings.SUMMARY_REGENERATE_MIN_SECONDS)


def ask_again(session: LlmSession) -> LlmSession:
    """A row with no summary to show: make it pending (a fresh progress lifetime) and queue it. A worker
    already on it, or a duplicate task, does nothing more: the claim lets one worker make one summary."""
    now = timezone.now()
    if session.status == SummaryStatus.PENDING and not pending_expired(session.requested_at, now):
        if session.lease_until is None or session.lease_until < now:
            enqueue_session_summary(session.pk)
        return session
    with transaction.atomic():
        LlmSession.objects.filter(pk=session.pk).update(status=SummaryStatus.PENDING, requested_at=now)
        enqueue_session_summary(session.pk)
    session.status, session.requested_at = SummaryStatus.PENDING, now
    return session


def regenerate_session(session: LlmSession, *, orguser: OrgUser | None) -> LlmSession:
    """A user's regenerate, within the limits (module docstring); the good summary stays shown until the new
    one is made, and stays if it cannot be.

    The org row's lock serializes an org's regenerates: the row's state is read again under it, so two clicks
    at once start one regenerate, and count-then-insert cannot pass the daily cap twice.
    """
    if session.status == SummaryStatus.PENDING:
        return ask_again(session)
    with transaction.atomic():
        Org.objects.select_for_update().filter(pk=session.org_id).first()
        session.refresh_from_db(fields=["status", "regenerating_since", "ready_at", "updated_at", "requested_at"])
        now = timezone.now()
        if session.status == SummaryStatus.PENDING:
            return session
        if session.regenerating_since is not None and not pending_expired(session.regenerating_since, now):
            return session
        if session.status == SummaryStatus.READY and made_recently(session):
            return session
        used = SummaryRegeneration.objects.filter(
            org_id=session.org_id, requested_at__gte=now - REGENERATE_WINDOW
        ).count()
        if used >= settings.SUMMARY_REGENERATE_DAILY_LIMIT:
            if session.status == SummaryStatus.READY:
                return session
            raise RegenerateLimitReached(session.org_id)
        SummaryRegeneration.objects.create(org_id=session.org_id, session=session, orguser=orguser)
        if session.status == SummaryStatus.READY:
            LlmSession.objects.filter(pk=session.pk).update(regenerating_since=now)
            session.regenerating_since = now
        else:
            LlmSession.objects.filter(pk=session.pk).update(status=SummaryStatus.PENDING, requested_at=now)
            session.status, session.requested_at = SummaryStatus.PENDING, now
        # In the same transaction: a regenerate is counted and shown running only if its task is queued.
        enqueue_session_summary(session.pk, regenerate=True)
    return session


def answer(session: LlmSession, *, orguser: OrgUser | None, regenerate: bool) -> LlmSession:
    """The row to poll: a ready summary as it is, a regenerate within its limits, else the row (re)queued."""
    if regenerate:
        return regenerate_session(session, orguser=orguser)
    if session.status == SummaryStatus.READY:
        return session
    return ask_again(session)


def new_flow_run_session(*, org: Org, orguser: OrgUser, flow_run_id: str, task_id: str | None) -> LlmSession:
    """The first request about this run (or node): Prefect says whose run it is, which step failed and
    whether the node is one of the run's. A node on the failed path gets the failure summary's row."""
    root = read_flow_run_from_prefect(flow_run_id)
    if org_of(root) != org:
        raise NotInOrg(flow_run_id)
    failed = locate_failed_step(root) if not task_id or root.needs_summary else None
    if failed is not None and (not task_id or task_id in failed.node_ids):
        step, trigger = failed, SummaryTrigger.FAILURE
    else:
        step, trigger = step_for_task_run(root, task_id), SummaryTrigger.ON_DEMAND
    return session_for_step(
        org=org, flow_run_id=root.id, step_key=step.key, failed_step=step.as_json(), orguser=orguser, trigger=trigger
    )


def request_flow_run_summary(
    *, org: Org, orguser: OrgUser, flow_run_id: str, task_id: str | None, regenerate: bool
) -> LlmSession:
    """The summary of a flow run's failed step, or of one node of it (any task or subflow, failed or not).

    Raises NotInOrg (not the caller's run), NodeNotFound (the task id is no node of this run) or PrefectError.
    """
    if task_id == flow_run_id:
        task_id = None  # the root itself: its failure summary
    session = session_for_node(org, flow_run_id, task_id) if task_id else failure_session(org, flow_run_id)
    if session is None:
        session = new_flow_run_session(org=org, orguser=orguser, flow_run_id=flow_run_id, task_id=task_id)
    return answer(session, orguser=orguser, regenerate=regenerate)


def request_airbyte_job_summary(
    *, org: Org, orguser: OrgUser, connection_id: str, job_id: int, attempt_number: int | None, regenerate: bool
) -> LlmSession:
    """The summary of one Airbyte job attempt of the org's connection. Raises InvalidJob before anything is
    read, stored or shown when the job is not the connection's or the connection not the org's."""
    if not job_of_org_connection(org, connection_id, job_id):
        raise InvalidJob(job_id)
    stored = ready_job_session(org, job_id, attempt_number)
    if stored is not None:
        return answer(stored, orguser=orguser, regenerate=regenerate)
    step_key = f"airbyte:{job_id}:{'latest-failed' if attempt_number is None else attempt_number}"
    failed_step = {
        "kind": StepKind.AIRBYTE,
        "label": f"Airbyte job {job_id}",
        "flow_run_id": "",
        "connection_id": connection_id,
        "airbyte_job_id": int(job_id),
        "attempt": attempt_number,
    }
    session = session_for_step(
        org=org,
        flow_run_id="",
        step_key=step_key,
        failed_step=failed_step,
        orguser=orguser,
        trigger=SummaryTrigger.ON_DEMAND,
    )
    return answer(session, orguser=orguser, regenerate=regenerate)
