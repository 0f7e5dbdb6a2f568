"""Gathers the evidence of the failed step only: its own logs, and the structured facts that explain them.

- a Prefect task: its logs, paged, level and timestamp kept, re-read until the count is stable (logs reach
  Prefect up to ~1.2 s after the webhook); a log longer than SUMMARY_LOG_MAX_RECORDS is read as its first
  LOG_HEAD_RECORDS and its last records (where a run fails), and the excerpt says how many were not read;
- a subflow or a flow body: that (sub)flow run's own logs, not the parent's;
- an Airbyte sync: the job of THAT connection created inside this step's time window (from our AirbyteJob
  table, fetched from Airbyte once if missing), its latest failed attempt, that attempt's logs and
  Airbyte's own failureSummary;
- a crashed run with no logs: the state message is the evidence.
"""

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ddpui.clients import airbyte, prefect
from ddpui.core.airbyte_jobs import WINDOW_MARGIN, fetch_and_store_job, sync_connection_jobs
from ddpui.core.flow_runs import FlowRunInfo
from ddpui.core.summaries.condense import LogGap, LogLine
from ddpui.core.summaries.locate import FailedStep
from ddpui.models import AirbyteJob
from ddpui.models.vocabulary import StepKind

FAILED_JOB_STATUSES = ("failed", "incomplete", "cancelled")
# A step that ended this long before its quiet time (an on-demand summary of an old run): one read is enough.
LONG_SETTLED = timedelta(minutes=1)
# The first records of a long log are always read: they say what ran (command, versions, model counts).
LOG_HEAD_RECORDS = 2000


@dataclass
class Evidence:
    """What we know about the failed step, before condensing."""

    lines: list[LogLine | LogGap]
    structured: list[str]
    wait_ms: int = 0
    notes: list[str] = field(default_factory=list)


def lines_of_log(record: dict) -> list[LogLine]:
    """One Prefect log record (the API's JSON) as LogLines, one per text line (a failed task's message holds a
    whole traceback); the level and timestamp go on the first."""
    level = record.get("level")
    level = logging.getLevelName(level) if isinstance(level, int) else None
    stamp = record.get("timestamp")
    stamp = datetime.fromisoformat(stamp).isoformat() if isinstance(stamp, str) and stamp else None
    return [
        LogLine(text=text, level=level if index == 0 else None, timestamp=stamp if index == 0 else None)
        for index, text in enumerate(str(record.get("message") or "").splitlines() or [""])
    ]


def log_lines_of(records: list[dict]) -> list[LogLine]:
    """Prefect log records as LogLines, one per text line."""
    return [line for record in records for line in lines_of_log(record)]


@dataclass
class StepLog:
    """What was read of a step's log: its lines in log order (a LogGap where the middle was not read), how
    many records Prefect holds and how many of them were not read."""

    lines: list[LogLine | LogGap]
    total: int
    head: int = 0  # records read from the start when the middle was skipped
    skipped: int = 0

    def skip_note(self) -> str | None:
        """The sentence that tells the reader (and the model) that part of the log was not read."""
        if not self.skipped:
            return None
        return (
            f"The step logged {self.total:,} log records; only the first {self.head:,} and the last "
            f"{self.total - self.skipped - self.head:,} were read, the {self.skipped:,} in between were not "
            f"(marked as not read in the excerpt)."
        )


def read_step_log(log_filter, max_records: int) -> StepLog:
    """The step's log within ``max_records`` records: all of it when it fits, else its first LOG_HEAD_RECORDS
    and its last records. Pages become LogLines as they arrive, so memory follows ``max_records``, never the
    log's length."""
    head_limit = min(LOG_HEAD_RECORDS, max_records // 2)
    lines: list[LogLine | LogGap] = []
    read = 0
    for page in prefect.log_pages(log_filter, max_records=head_limit):
        read += len(page)
        lines.extend(log_lines_of(page))
    if read < head_limit:
        return StepLog(lines=lines, total=read)
    total = prefect.count_logs(log_filter)
    if total <= max_records:
        for page in prefect.log_pages(log_filter, offset=read, max_records=max_records - read):
            read += len(page)
            lines.extend(log_lines_of(page))
        return StepLog(lines=lines, total=read)
    newest_first: list[list[LogLine]] = []
    for page in prefect.log_pages(log_filter, max_records=max_records - head_limit, newest_first=True):
        newest_first.extend(lines_of_log(record) for record in page)
    skipped = max(0, total - head_limit - len(newest_first))  # 0 only if records vanished between reads
    if skipped:
        lines.append(LogGap(lines=skipped))
    for record in reversed(newest_first):
        lines.extend(record)
    return StepLog(lines=lines, total=total, head=head_limit, skipped=skipped)


def settled_prefect_logs(step: FailedStep, ended_at: datetime | None) -> tuple[StepLog, int]:
    """The step's logs once they have all arrived; also the milliseconds waited. `ended_at` is when the run's
    process ended (it flushes its last log batch as it exits).

    Prefect's clients ship logs in batches every ~2 s, so a read right after the webhook misses lines. Logs are
    taken as complete once the step ended LOG_QUIET_SECONDS ago AND two reads agree on the count; the wait is
    bounded by LOG_SETTLE_MAX_SECONDS. A long log is only counted while it settles (a count is ~30 one-record
    reads, its head and tail ~100 pages), then read once.
    """
    if step.log_scope == "task_run":
        log_filter = prefect.log_filter_of(task_run_id=step.task_run_id)
    else:
        log_filter = prefect.log_filter_of(flow_run_id=step.flow_run_id)
    max_records = settings.SUMMARY_LOG_MAX_RECORDS
    started = time.monotonic()
    quiet_from = (ended_at or timezone.now()) + timedelta(seconds=settings.LOG_QUIET_SECONDS)
    log = read_step_log(log_filter, max_records)
    if timezone.now() > quiet_from + LONG_SETTLED:
        return log, 0
    count, previous_count = log.total, None
    while timezone.now() < quiet_from or count != previous_count:
        if time.monotonic() - started >= settings.LOG_SETTLE_MAX_SECONDS:
            break
        time.sleep(settings.LOG_SETTLE_INTERVAL_SECONDS)
        previous_count = count
        if log.total >= LOG_HEAD_RECORDS:
            count = prefect.count_logs(log_filter)  # a long log is counted while it settles, read once after
        else:
            log = read_step_log(log_filter, max_records)
            count = log.total
    if count != log.total:
        log = read_step_log(log_filter, max_records)
    return log, int((time.monotonic() - started) * 1000)


def state_facts(step: FailedStep, root: FlowRunInfo) -> list[str]:
    """Prefect's state messages of the step and of the run: often the whole story of a crash or timeout."""
    facts = []
    if step.state_message:
        facts.append(f"Prefect state of step '{step.label}': {step.state_name}: {step.state_message}")
    if root.state_message and root.state_message != step.state_message:
        facts.append(f"Prefect state of the run: {root.state_name}: {root.state_message}")
    elif not facts:
        facts.append(f"Prefect state of the run: {root.state_name}")
    return facts


def prefect_evidence(step: FailedStep, root: FlowRunInfo) -> Evidence:
    """A Prefect task's or (sub)flow's own logs plus the state messages."""
    log, wait_ms = settled_prefect_logs(step, root.end_time or step.end_time)
    lines = log.lines
    evidence = Evidence(
        lines=lines,
        structured=state_facts(step, root),
        wait_ms=wait_ms,
    )
    if not lines:
        evidence.notes.append("Prefect recorded no log lines for this step (a crash can end a run before any).")
    if log.skipped:
        evidence.notes.append(log.skip_note())
    return evidence


def job_of_this_run(connection_id: str, started: datetime, ended: datetime) -> AirbyteJob | None:
    """The connection's job created inside this step's window: a failed one first, else the latest."""
    jobs = list(
        AirbyteJob.objects.filter(
            config_id=connection_id,
            created_at__gte=started - WINDOW_MARGIN,
            created_at__lte=ended + WINDOW_MARGIN,
        ).order_by("-created_at")
    )
    for job in jobs:
        if job.status in FAILED_JOB_STATUSES:
            return job
    return jobs[0] if jobs else None


def failed_attempt(job: AirbyteJob) -> dict | None:
    """The failed attempt with the highest id, else the last attempt."""
    attempts = [a for a in job.attempts or [] if isinstance(a, dict)]
    failed = [a for a in attempts if a.get("status") == "failed"]
    pool = failed or attempts
    return max(pool, key=lambda a: int(a.get("id") or 0)) if pool else None


def failure_summary_facts(attempt: dict) -> list[str]:
    """Airbyte's own diagnosis of an attempt, one line per failure."""
    facts = []
    for failure in (attempt.get("failureSummary") or {}).get("failures") or []:
        if not isinstance(failure, dict):
            continue
        origin = failure.get("failureOrigin") or "unknown origin"
        kind = failure.get("failureType") or "unknown type"
        message = failure.get("externalMessage") or failure.get("internalMessage") or ""
        facts.append(f"Airbyte failure ({origin}, {kind}): {message}")
        internal = failure.get("internalMessage")
        if internal and internal != message:
            facts.append(f"Airbyte internal message: {internal}")
    return facts


def airbyte_log_lines(job_id: int, attempt_number: int) -> list[LogLine]:
    """One attempt's log lines from Airbyte."""
    return [
        LogLine(text=entry["message"], level=entry.get("level"), timestamp=entry.get("timestamp"))
        for entry in airbyte.get_attempt_logs(job_id, attempt_number)
    ]


def airbyte_job_evidence(job: AirbyteJob, attempt_number: int | None = None) -> tuple[Evidence, int | None]:
    """An Airbyte job attempt's failureSummary and logs (the latest failed attempt unless one is given)."""
    attempts = [a for a in job.attempts or [] if isinstance(a, dict)]
    if attempt_number is None:
        attempt = failed_attempt(job)
    else:
        attempt = next((a for a in attempts if int(a.get("id") or 0) == attempt_number), None)
    number = int(attempt.get("id") or 0) if attempt else attempt_number
    structured = [f"Airbyte job {job.job_id} ({job.job_type}) of connection {job.config_id}: {job.status}"]
    structured.extend(failure_summary_facts(attempt or {}))
    evidence = Evidence(lines=[], structured=structured)
    if number is not None:
        try:
            evidence.lines = airbyte_log_lines(job.job_id, number)
        except airbyte.AirbyteError as exc:
            evidence.notes.append(f"Airbyte logs unavailable: {exc}")
    return evidence, number


def airbyte_step_evidence(step: FailedStep, root: FlowRunInfo) -> tuple[FailedStep, Evidence]:
    """The Airbyte job of this step's connection in this run (and the step naming that job and attempt);
    Prefect's logs if no such job exists."""
    window_start = step.start_time or root.start_time or root.expected_start_time or timezone.now()
    window_end = step.end_time or root.end_time or timezone.now()
    job = job_of_this_run(step.connection_id, window_start, window_end)
    if job is None:
        # Airbyte down raises here: the row records it and is retried, rather than summarized without the job.
        sync_connection_jobs(step.connection_id, started=window_start, ended=window_end)
        job = job_of_this_run(step.connection_id, window_start, window_end)
    if job is None:
        evidence = prefect_evidence(step, root)
        evidence.notes.append(f"No Airbyte job of connection {step.connection_id} was found within this run.")
        return step, evidence
    evidence, attempt_number = airbyte_job_evidence(job)
    evidence.structured.extend(state_facts(step, root))
    return replace(step, airbyte_job_id=job.job_id, attempt=attempt_number), evidence


def requested_job_evidence(step: FailedStep) -> tuple[FailedStep, Evidence]:
    """An Airbyte job attempt asked for by id (on demand): from our table, else fetched from Airbyte once; and
    the step naming the attempt read."""
    job = AirbyteJob.objects.filter(job_id=step.airbyte_job_id).first() or fetch_and_store_job(step.airbyte_job_id)
    evidence, attempt_number = airbyte_job_evidence(job, step.attempt)
    return replace(step, attempt=attempt_number), evidence


def gather_evidence(step: FailedStep, root: FlowRunInfo | None) -> tuple[FailedStep, Evidence]:
    """The evidence of the failed step only (see the module docstring), and the step as that evidence completed
    it (the Airbyte job and attempt it came from); the step given is not changed. `root` is None for a job
    asked by id."""
    if root is None:
        return requested_job_evidence(step)
    if step.kind == StepKind.AIRBYTE and step.connection_id:
        return airbyte_step_evidence(step, root)
    return step, prefect_evidence(step, root)
