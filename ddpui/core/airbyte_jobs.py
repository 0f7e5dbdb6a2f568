"""Keeps our AirbyteJob table in step with Airbyte: the jobs of a connection within a run's time window."""

import logging
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from ddpui.clients import airbyte
from ddpui.core.redaction import redact_value
from ddpui.models import AirbyteJob

logger = logging.getLogger(__name__)

# Airbyte stamps a job when it is created, slightly before or after Prefect records the run's start.
WINDOW_MARGIN = timedelta(minutes=2)


def epoch_to_datetime(value: Any) -> datetime | None:
    """Airbyte's epoch seconds as an aware datetime."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=dt_timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def attempt_objects(attempts: list[Any]) -> list[dict[str, Any]]:
    """The attempt dicts, whether Airbyte wrapped them as {"attempt": {...}} (jobs/get) or not (jobs/list)."""
    found = []
    for item in attempts or []:
        if isinstance(item, dict):
            inner = item.get("attempt") if isinstance(item.get("attempt"), dict) else item
            found.append(inner)
    return found


def upsert_airbyte_job(job_info: dict[str, Any]) -> AirbyteJob:
    """Create or update our row for one `jobs/get_without_logs` answer."""
    job = job_info.get("job") or {}
    stats = job.get("aggregatedStats") or {}
    attempts = attempt_objects(job_info.get("attempts") or [])
    created_at = epoch_to_datetime(job.get("createdAt"))
    started = [epoch_to_datetime(a.get("createdAt")) for a in attempts]
    ended = [epoch_to_datetime(a.get("endedAt")) for a in attempts]
    row, _ = AirbyteJob.objects.update_or_create(
        job_id=int(job["id"]),
        defaults={
            "job_type": str(job.get("configType") or ""),
            "config_id": str(job.get("configId") or ""),
            "status": str(job.get("status") or ""),
            "reset_config": job.get("resetConfig"),
            "refresh_config": job.get("refreshConfig"),
            "stream_stats": job.get("streamAggregatedStats"),
            "records_emitted": int(stats.get("recordsEmitted") or 0),
            "bytes_emitted": int(stats.get("bytesEmitted") or 0),
            "records_committed": int(stats.get("recordsCommitted") or 0),
            "bytes_committed": int(stats.get("bytesCommitted") or 0),
            # Airbyte's failure reasons and stack traces quote connection strings and auth headers.
            "attempts": redact_value(attempts),
            "started_at": min((t for t in started if t), default=created_at),
            "ended_at": max((t for t in ended if t), default=None),
            "created_at": created_at or datetime.now(tz=dt_timezone.utc),
        },
    )
    return row


def fetch_and_store_job(job_id: int) -> AirbyteJob:
    """Read one job from Airbyte and store it (raises AirbyteError)."""
    return upsert_airbyte_job(airbyte.get_job(job_id))


def sync_connection_jobs(
    connection_id: str, *, started: datetime, ended: datetime
) -> tuple[list[AirbyteJob], list[str]]:
    """Store every job of a connection created inside [started, ended] (with a margin).

    Returns the stored rows and the errors of jobs that could not be stored: one bad job does not stop the
    rest. Listing itself failing raises AirbyteError (the caller retries the whole step later).
    """
    listed = airbyte.list_jobs(
        connection_id, created_after=started - WINDOW_MARGIN, created_before=ended + WINDOW_MARGIN
    )
    rows, errors = [], []
    for item in listed:
        job_id = (item.get("job") or {}).get("id")
        try:
            rows.append(fetch_and_store_job(int(job_id)))
        except (airbyte.AirbyteError, KeyError, TypeError, ValueError) as exc:
            logger.warning("could not sync Airbyte job %s of connection %s: %s", job_id, connection_id, exc)
            errors.append(f"job {job_id}: {exc}")
    return rows, errors
