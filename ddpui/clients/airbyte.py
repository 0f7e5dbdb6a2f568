"""The only code that speaks to Airbyte: its Config API (`POST /api/<version>/<endpoint>` with JSON bodies)."""

import os
from datetime import datetime
from typing import Any

import httpx
from django.conf import settings

from ddpui.clients.deadline import deadline_client

SYNC_CONFIG_TYPES = ["sync", "reset_connection", "clear", "refresh"]
JOBS_PAGE_SIZE = 20


class AirbyteError(Exception):
    """Airbyte could not be reached or answered with an error."""


def airbyte_base_url() -> str:
    """The Config API root built from AIRBYTE_SERVER_HOST, _PORT and _APIVER."""
    host = settings.AIRBYTE_SERVER_HOST
    scheme = "" if host.startswith(("http://", "https://")) else "http://"
    return f"{scheme}{host}:{settings.AIRBYTE_SERVER_PORT}/api/{settings.AIRBYTE_SERVER_APIVER}/"


# One client per process and timeout (an SSL context costs ~40 ms); keyed by pid because the qcluster forks.
OPEN_CLIENTS: dict[tuple[int, float], httpx.Client] = {}


def shared_client() -> httpx.Client:
    """This process's client: every call ends within AIRBYTE_HTTP_TIMEOUT_SECONDS of wall-clock time, however
    slowly Airbyte sends its answer."""
    key = (os.getpid(), settings.AIRBYTE_HTTP_TIMEOUT_SECONDS)
    client = OPEN_CLIENTS.get(key)
    if client is None:
        client = OPEN_CLIENTS[key] = deadline_client(settings.AIRBYTE_HTTP_TIMEOUT_SECONDS)
    return client


def post(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST one Config API endpoint and return its JSON answer; any failure is an AirbyteError."""
    headers = {"Authorization": f"Bearer {settings.AIRBYTE_API_TOKEN}"} if settings.AIRBYTE_API_TOKEN else {}
    try:
        response = shared_client().post(airbyte_base_url() + endpoint, json=body, headers=headers)
        response.raise_for_status()
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise AirbyteError(f"Airbyte {endpoint} failed: {exc}") from exc
    if not isinstance(answer, dict):
        raise AirbyteError(f"Airbyte {endpoint} answered {type(answer).__name__}, not an object")
    return answer


def list_jobs(connection_id: str, *, created_after: datetime, created_before: datetime) -> list[dict[str, Any]]:
    """Every job of a connection created inside a time window, newest first (paged)."""
    jobs: list[dict[str, Any]] = []
    while True:
        answer = post(
            "jobs/list",
            {
                "configTypes": SYNC_CONFIG_TYPES,
                "configId": connection_id,
                "pagination": {"rowOffset": len(jobs), "pageSize": JOBS_PAGE_SIZE},
                "createdAtStart": created_after.isoformat(),
                "createdAtEnd": created_before.isoformat(),
            },
        )
        page = answer.get("jobs") or []
        jobs.extend(page)
        if len(page) < JOBS_PAGE_SIZE or len(jobs) >= int(answer.get("totalJobCount") or 0):
            return jobs


def get_job(job_id: int) -> dict[str, Any]:
    """One job with its attempts (including failureSummary), without logs."""
    return post("jobs/get_without_logs", {"id": int(job_id)})


def get_attempt_logs(job_id: int, attempt_number: int) -> list[dict[str, Any]]:
    """An attempt's log lines as [{message, level, timestamp}], structured when Airbyte gives events."""
    answer = post("attempt/get_for_job", {"jobId": int(job_id), "attemptNumber": int(attempt_number)})
    logs = answer.get("logs") or {}
    if logs.get("events"):
        return [
            {"message": str(e.get("message", "")), "level": e.get("level"), "timestamp": e.get("timestamp")}
            for e in logs["events"]
        ]
    return [{"message": str(line), "level": None, "timestamp": None} for line in logs.get("logLines") or []]
