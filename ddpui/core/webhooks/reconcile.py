"""Missed webhooks: Prefect's call-webhook never retries, so a sweep asks Prefect for failed root runs (and runs
whose dbt tests failed) of our deployments and feeds any we have not summarized through the normal handler (as if the webhook had come)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from prefect.client.schemas.objects import StateType

from ddpui.clients import prefect
from ddpui.core.flow_runs import DBT_TEST_FAILED
from ddpui.core.summaries.queue import enqueue_flow_run_summary
from ddpui.core.webhooks.intake import record_notification
from ddpui.core.webhooks.parse import ParsedNotification
from ddpui.models import LlmSession, OrgDataFlow
from ddpui.models.vocabulary import BodyFormat

logger = logging.getLogger(__name__)

# A notification this old whose run still has no summary lost its summary task.
LOST_AFTER = timedelta(minutes=15)


def enqueue_missed_failures() -> int:
    """Record a notification for each failed root run with no summary; returns how many were new."""
    deployment_ids = list(OrgDataFlow.objects.values_list("deployment_id", flat=True))
    since = timezone.now() - timedelta(hours=settings.RECONCILE_LOOKBACK_HOURS)
    # Failed runs by type; failed dbt tests by Dalgo's own state name (a COMPLETED type).
    runs = prefect.read_ended_root_flow_runs(
        deployment_ids=deployment_ids, state_types=[StateType.FAILED, StateType.CRASHED], ended_after=since
    ) + prefect.read_ended_root_flow_runs(
        deployment_ids=deployment_ids, state_names=[DBT_TEST_FAILED], ended_after=since
    )
    summarized = set(
        LlmSession.objects.filter(flow_run_id__in=[str(run.id) for run in runs]).values_list("flow_run_id", flat=True)
    )
    queued = 0
    for run in runs:
        if str(run.id) in summarized or run.state is None:
            continue
        notification, created = record_notification(
            ParsedNotification(
                flow_run_id=str(run.id),
                state_name=run.state.name or run.state.type.value.title(),
                state_type=run.state.type.value,
                body_format=BodyFormat.RECONCILE,
                flow_run_name=run.name or "",
            )
        )
        if not created and notification.received_at < timezone.now() - LOST_AFTER:
            # The webhook came but its summary never did (the task was lost): queue the summary itself.
            # A duplicate is harmless: one row per step, claimed by one worker.
            enqueue_flow_run_summary(str(run.id))
            created = True
        queued += int(created)
    if queued:
        logger.info("reconcile: queued %d missed failed run(s)", queued)
    return queued
