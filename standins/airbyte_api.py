"""A fake Airbyte Config API (`POST /api/v1/<endpoint>`): the job and attempt reads our backend
makes, in the shapes of Airbyte's config.yaml (JobReadList, JobInfoRead, AttemptInfoRead)."""

import base64
import datetime
import itertools
import re
import threading
from typing import Any, Iterable

from standins.server import HttpError, RecordedRequest, StandinServer

JOB_STATUSES = {"pending", "running", "incomplete", "failed", "succeeded", "cancelled"}
ATTEMPT_STATUSES = {"running", "failed", "succeeded"}
LOG_TYPES = {"formatted", "structured"}
DEFAULT_PAGE_SIZE = 200
FIRST_JOB_ID = 1000

# A formatted line whose level we can read, e.g. "2024-06-04 10:00:00 ERROR ..." or "... platform > ERROR".
LEVEL_RE = re.compile(r"\b(TRACE|DEBUG|INFO|WARN|WARNING|ERROR)\b")
SOURCE_RE = re.compile(r"\b(source|destination|platform|replication-orchestrator)\s*>")


def _epoch(value: Any) -> int:
    """Airbyte reports times as epoch seconds; fixtures may give datetimes or ISO strings."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp())
    return int(value)


def _parse_iso(value: str, field: str) -> int:
    """An ISO time from a request, or None when it does not parse (the caller answers 422)."""
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _invalid_input(field, value, "must be an ISO 8601 date-time") from None
    return _epoch(parsed)


def _invalid_input(field: str, value: Any, message: str) -> HttpError:
    """A 422 in the shape of Airbyte's InvalidInputExceptionInfo."""
    return HttpError(
        422,
        {
            "message": "Some properties contained invalid input.",
            "exceptionClassName": "io.airbyte.commons.server.errors.BadObjectSchemaKnownException",
            "exceptionStack": [],
            "validationErrors": [{"propertyPath": field, "invalidValue": str(value), "message": message}],
        },
    )


def _not_found(message: str) -> HttpError:
    """A 404 in the shape of Airbyte's NotFoundKnownExceptionInfo."""
    return HttpError(
        404,
        {
            "id": None,
            "message": message,
            "exceptionClassName": "io.airbyte.commons.server.errors.IdNotFoundKnownException",
            "exceptionStack": [],
            "rootCauseExceptionClassName": None,
            "rootCauseExceptionStack": [],
        },
    )


def failure(
    external_message: str,
    *,
    origin: str = "source",
    failure_type: str = "system_error",
    internal_message: str | None = None,
    stacktrace: str | None = None,
    retryable: bool = False,
    timestamp_ms: int | None = None,
    stream: str | None = None,
) -> dict:
    """One FailureReason, as in failureSummary.failures[]."""
    reason = {
        "failureOrigin": origin,
        "failureType": failure_type,
        "externalMessage": external_message,
        "internalMessage": internal_message or external_message,
        "stacktrace": stacktrace,
        "retryable": retryable,
        "timestamp": timestamp_ms or int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000),
        "fromTraceMessage": True,
    }
    if stream:
        reason["streamDescriptor"] = {"name": stream}
    return reason


def _log_event(line: str | dict, timestamp_ms: int) -> dict:
    """A structured LogEvent from a stored line (a dict is taken as the event itself)."""
    if isinstance(line, dict):
        return {"timestamp": timestamp_ms, "level": "info", "logSource": "platform", **line}
    level = LEVEL_RE.search(line)
    source = SOURCE_RE.search(line)
    level_name = (level.group(1).lower() if level else "info").replace("warning", "warn")
    return {
        "timestamp": timestamp_ms,
        "message": line,
        "level": level_name,
        "logSource": source.group(1) if source else "platform",
    }


def _log_line(line: str | dict) -> str:
    """A formatted log line from a stored line (a dict is rendered as Airbyte formats events)."""
    if isinstance(line, str):
        return line
    when = datetime.datetime.fromtimestamp(line.get("timestamp", 0) / 1000, datetime.timezone.utc)
    source = line.get("logSource", "platform")
    return f"{when:%Y-%m-%d %H:%M:%S} {source} > {line.get('level', 'info').upper()} {line['message']}"


class AirbyteStandin(StandinServer):
    """Fake Airbyte server: add jobs with add_job(), then POST to `api_url`/<endpoint>.

    `log_type` is what attempt/get_for_job answers by default: "formatted" (logs.logLines),
    "structured" (logs.events, Airbyte >= 1.4) or None (pre-1.4: formatted, no logType key).
    A request's own "logType" wins. With `token` or `basic_auth` set, other credentials get 401.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        latency: float = 0.0,
        token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        log_type: str | None = "formatted",
    ):
        """A stand-in Airbyte server; log_type picks which log shape attempts answer with (as Airbyte versions differ)."""
        super().__init__(port, latency=latency)
        if log_type is not None and log_type not in LOG_TYPES:
            raise ValueError(f"log_type must be one of {LOG_TYPES} or None")
        self.log_type = log_type
        self._expected_auth = None
        if token is not None:
            self._expected_auth = f"Bearer {token}"
        elif basic_auth is not None:
            self._expected_auth = "Basic " + base64.b64encode(":".join(basic_auth).encode()).decode()
        self._store_lock = threading.Lock()
        self._jobs: dict[int, dict] = {}
        self._job_ids = itertools.count(FIRST_JOB_ID)
        self.route("GET", r"/api/v1/health", self._health)
        self.route("POST", r"/api/v1/health", self._health)
        self.route("POST", r"/api/v1/jobs/list", self._authorized(self._list_jobs))
        self.route("POST", r"/api/v1/jobs/get", self._authorized(self._get_job))
        self.route("POST", r"/api/v1/jobs/get_without_logs", self._authorized(self._get_job_without_logs))
        self.route("POST", r"/api/v1/attempt/get_for_job", self._authorized(self._get_attempt))

    @property
    def api_url(self) -> str:
        """Base of the Config API: POST f"{api_url}/jobs/list"."""
        return f"{self.url}/api/v1"

    def error_body(self, status: int, message: str) -> Any:
        """Airbyte's KnownExceptionInfo shape."""
        return {"message": message, "exceptionClassName": "io.airbyte.commons.server.errors.ApplicationErrorKnownException", "exceptionStack": []}

    # store -----------------------------------------------------------------------------

    def add_job(
        self,
        connection_id: str,
        status: str = "failed",
        created_at: datetime.datetime | int | None = None,
        attempts: Iterable[dict] | None = None,
        *,
        job_id: int | None = None,
        config_type: str = "sync",
        streams: Iterable[str] = ("users",),
        records: int = 0,
        bytes_: int = 0,
    ) -> dict:
        """Store a job and return it as jobs/list serves it ({"job", "attempts"}).

        Each attempt is a dict with optional keys: status (default: the job's status, or
        "failed"), failures (list of failure() dicts), failure_summary (a whole summary),
        log_lines (str, or dicts that are structured events), created_at, ended_at, records,
        bytes. Attempts are numbered 0, 1, ... in order; created_at defaults to now.
        """
        if status not in JOB_STATUSES:
            raise ValueError(f"job status must be one of {JOB_STATUSES}")
        created = _epoch(created_at) if created_at is not None else _epoch(datetime.datetime.now(datetime.timezone.utc))
        attempt_specs = list(attempts) if attempts is not None else [{}]
        with self._store_lock:
            job_id = job_id if job_id is not None else next(self._job_ids)
        stream_names = list(streams)
        stored_attempts = []
        clock = created
        # Attempts of a pending/incomplete/cancelled job default to failed, as Airbyte records them.
        default_attempt_status = {"succeeded": "succeeded", "running": "running"}.get(status, "failed")
        for number, spec in enumerate(attempt_specs):
            attempt_status = spec.get("status") or default_attempt_status
            if attempt_status not in ATTEMPT_STATUSES:
                raise ValueError(f"attempt status must be one of {ATTEMPT_STATUSES}")
            started = _epoch(spec["created_at"]) if "created_at" in spec else clock
            ended = _epoch(spec["ended_at"]) if "ended_at" in spec else (None if attempt_status == "running" else started + 60)
            clock = (ended or started) + 1
            stored_attempts.append(
                {
                    "number": number,
                    "status": attempt_status,
                    "created_at": started,
                    "ended_at": ended,
                    "records": spec.get("records", records if attempt_status == "succeeded" else 0),
                    "bytes": spec.get("bytes", bytes_ if attempt_status == "succeeded" else 0),
                    "failure_summary": spec.get("failure_summary")
                    or ({"failures": list(spec["failures"]), "partialSuccess": False} if spec.get("failures") else None),
                    "log_lines": list(spec.get("log_lines", [])),
                }
            )
        job = {
            "id": job_id,
            "config_type": config_type,
            "config_id": connection_id,
            "status": status,
            "created_at": created,
            "updated_at": max([created] + [a["ended_at"] or a["created_at"] for a in stored_attempts]),
            "streams": stream_names,
            "attempts": stored_attempts,
        }
        with self._store_lock:
            self._jobs[job_id] = job
        return {"job": self._job_read(job), "attempts": [self._attempt_read(a, job) for a in stored_attempts]}

    # wire shapes -----------------------------------------------------------------------

    def _job_read(self, job: dict) -> dict:
        """A job as Airbyte's JobRead, with totals summed over its attempts."""
        attempts = job["attempts"]
        records = sum(a["records"] for a in attempts)
        bytes_ = sum(a["bytes"] for a in attempts)
        per_stream = len(job["streams"]) or 1
        read = {
            "id": job["id"],
            "configType": job["config_type"],
            "configId": job["config_id"],
            "enabledStreams": [{"name": s} for s in job["streams"]],
            "createdAt": job["created_at"],
            "updatedAt": job["updated_at"],
            "startedAt": attempts[0]["created_at"] if attempts else None,
            "status": job["status"],
            "aggregatedStats": {
                "recordsEmitted": records,
                "bytesEmitted": bytes_,
                "recordsCommitted": records,
                "bytesCommitted": bytes_,
                "recordsRejected": 0,
            },
            "streamAggregatedStats": [
                {
                    "streamName": s,
                    "recordsEmitted": records // per_stream,
                    "bytesEmitted": bytes_ // per_stream,
                    "recordsCommitted": records // per_stream,
                    "bytesCommitted": bytes_ // per_stream,
                    "recordsRejected": 0,
                    "wasBackfilled": False,
                    "wasResumed": False,
                }
                for s in job["streams"]
            ],
        }
        streams = [{"name": s} for s in job["streams"]]
        if job["config_type"] in ("reset_connection", "clear"):
            read["resetConfig"] = {"streamsToReset": streams}
        if job["config_type"] == "refresh":
            read["refreshConfig"] = {"streamsToRefresh": streams}
        return read

    def _attempt_read(self, attempt: dict, job: dict) -> dict:
        """One attempt as Airbyte's AttemptRead, including its stats and failure summary."""
        stats = {
            "recordsEmitted": attempt["records"],
            "bytesEmitted": attempt["bytes"],
            "stateMessagesEmitted": 0,
            "bytesCommitted": attempt["bytes"],
            "recordsCommitted": attempt["records"],
            "recordsRejected": 0,
        }
        read = {
            # Airbyte's AttemptRead.id is the attempt number, the one attempt/get_for_job takes.
            "id": attempt["number"],
            "status": attempt["status"],
            "createdAt": attempt["created_at"],
            "updatedAt": attempt["ended_at"] or attempt["created_at"],
            "endedAt": attempt["ended_at"],
            "bytesSynced": attempt["bytes"],
            "recordsSynced": attempt["records"],
            "totalStats": stats,
            "streamStats": [{"streamName": s, "stats": stats} for s in job["streams"]],
        }
        if attempt["failure_summary"]:
            read["failureSummary"] = attempt["failure_summary"]
        return read

    def _logs(self, attempt: dict, log_type: str | None) -> dict:
        """An attempt's logs in the shape the configured Airbyte version returns (structured events or plain lines)."""
        if log_type == "structured":
            start_ms = attempt["created_at"] * 1000
            return {"events": [_log_event(line, start_ms + i) for i, line in enumerate(attempt["log_lines"])], "version": "1"}
        return {"logLines": [_log_line(line) for line in attempt["log_lines"]]}

    def _attempt_info(self, attempt: dict, job: dict, log_type: str | None) -> dict:
        """An attempt with its logs, as Airbyte's get_for_job answers it."""
        info = {"attempt": self._attempt_read(attempt, job)}
        if log_type is not None:
            info["logType"] = log_type
        info["logs"] = self._logs(attempt, log_type)
        return info

    # endpoints -------------------------------------------------------------------------

    def _authorized(self, handler):
        """Wrap a handler so it answers 401 without the expected credentials, as Airbyte does."""
        def guarded(request: RecordedRequest, **params: Any) -> tuple:
            """Answer 401 unless the request carries the expected Authorization header."""
            if self._expected_auth is not None and request.headers.get("authorization") != self._expected_auth:
                return 401, {"message": "Unauthorized", "exceptionClassName": "io.micronaut.security.authentication.AuthorizationException"}
            return handler(request, **params)

        return guarded

    def _health(self, request: RecordedRequest) -> tuple:
        """Airbyte's health endpoint: always available."""
        return 200, {"available": True}

    def _job(self, body: dict) -> dict:
        """The stored job a request body names, or Airbyte's 422/404 error."""
        job_id = body.get("id", body.get("jobId"))
        if not isinstance(job_id, int):
            raise _invalid_input("id" if "id" in body else "jobId", job_id, "must be an integer")
        with self._store_lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise _not_found(f"Could not find job with id: {job_id}")
        return job

    def _list_jobs(self, request: RecordedRequest) -> tuple:
        """Airbyte's jobs/list: a connection's jobs filtered by config type and creation window, paged."""
        body = request.json or {}
        config_types = body.get("configTypes")
        if not isinstance(config_types, list):
            raise _invalid_input("configTypes", config_types, "is required")
        start = _parse_iso(body["createdAtStart"], "createdAtStart") if body.get("createdAtStart") else None
        end = _parse_iso(body["createdAtEnd"], "createdAtEnd") if body.get("createdAtEnd") else None
        statuses = body.get("statuses")
        with self._store_lock:
            jobs = list(self._jobs.values())
        jobs = [
            j
            for j in jobs
            if j["config_type"] in config_types
            and (body.get("configId") is None or j["config_id"] == body["configId"])
            and (start is None or j["created_at"] >= start)
            and (end is None or j["created_at"] <= end)
            and (not statuses or j["status"] in statuses)
        ]
        # Newest first; the id breaks ties between jobs created in the same second.
        jobs.sort(key=lambda j: (j["created_at"], j["id"]), reverse=True)
        pagination = body.get("pagination") or {}
        offset = pagination.get("rowOffset") or 0
        size = pagination.get("pageSize") or DEFAULT_PAGE_SIZE
        page = jobs[offset : offset + size]
        return 200, {
            "jobs": [{"job": self._job_read(j), "attempts": [self._attempt_read(a, j) for a in j["attempts"]]} for j in page],
            "totalJobCount": len(jobs),
        }

    def _get_job(self, request: RecordedRequest) -> tuple:
        """Airbyte's jobs/get: a job with every attempt and its logs."""
        job = self._job(request.json or {})
        return 200, {
            "job": self._job_read(job),
            "attempts": [self._attempt_info(a, job, self.log_type) for a in job["attempts"]],
        }

    def _get_job_without_logs(self, request: RecordedRequest) -> tuple:
        """Airbyte's jobs/get_without_logs: a job with its attempts, no logs."""
        job = self._job(request.json or {})
        return 200, {"job": self._job_read(job), "attempts": [{"attempt": self._attempt_read(a, job)} for a in job["attempts"]]}

    def _get_attempt(self, request: RecordedRequest) -> tuple:
        """Airbyte's attempt/get_for_job: one attempt of a job with its logs."""
        body = request.json or {}
        job = self._job(body)
        number = body.get("attemptNumber")
        if not isinstance(number, int):
            raise _invalid_input("attemptNumber", number, "must be an integer")
        if not 0 <= number < len(job["attempts"]):
            raise _not_found(f"Could not find attempt {number} of job {job['id']}")
        log_type = body.get("logType") or self.log_type
        if log_type is not None and log_type not in LOG_TYPES:
            raise _invalid_input("logType", log_type, f"must be one of {sorted(LOG_TYPES)}")
        return 200, self._attempt_info(job["attempts"][number], job, log_type)
