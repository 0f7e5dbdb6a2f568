"""Realistic log noise for benchmarks and tests: long healthy-looking Airbyte, dbt and Prefect output
(progress counters, model builds, retried requests that recover, per-row warnings) with a real failure
log embedded in it. Deterministic for a given seed; generated lazily so memory does not grow with size.
"""

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

STREAMS = ("users", "donations", "beneficiaries", "programs", "surveys", "attendance", "payments", "sites")
MODELS = ("stg_users", "stg_donations", "int_beneficiary_visits", "fct_program_reach", "dim_sites",
          "stg_surveys", "int_attendance_daily", "fct_donor_retention")


def _clock(start: datetime, step_ms: int) -> Iterator[datetime]:
    """An endless, slowly advancing clock."""
    moment = start
    while True:
        yield moment
        moment += timedelta(milliseconds=step_ms)


def airbyte_noise(count: int, rng: random.Random) -> Iterator[str]:
    """Lines of a healthy Airbyte sync: progress, buffer flushes, rate-limited requests that recover and
    per-row warnings."""
    clock = _clock(datetime(2024, 5, 1, 12, 0, 0), 40)
    records = 0
    for index in range(count):
        stamp = next(clock).strftime("%Y-%m-%d %H:%M:%S")
        stream = STREAMS[index % len(STREAMS)]
        roll = rng.random()
        records += rng.randint(100, 5000)
        if roll < 0.55:
            yield f"{stamp} replication-orchestrator > Records read: {records} ({records // 4000} MB)"
        elif roll < 0.70:
            yield f"{stamp} source > Syncing stream: {stream} (page {rng.randint(1, 900)}, {rng.randint(10, 500)} records)"
        elif roll < 0.80:
            yield (f"{stamp} destination > Flushing buffer of stream {stream}: {rng.randint(1, 9000)} records, "
                   f"{rng.randint(1, 80)} MB in {rng.random():.2f}s")
        elif roll < 0.87:
            wait = rng.uniform(0.5, 30)
            yield (f"{stamp} source > WARN Rate limited by the API (HTTP 429), backing off {wait:.1f} seconds "
                   f"(attempt {rng.randint(1, 4)} of 5)")
        elif roll < 0.90:
            yield f"{stamp} source > Request succeeded after {rng.randint(2, 4)} attempts"
        elif roll < 0.97:
            yield (f"{stamp} destination > WARN Value in column 'notes' of stream {stream} at row {rng.randint(1, 10**6)} "
                   f"is longer than 65535 characters; truncating")
        else:
            yield (f"{stamp} replication-orchestrator > Stream {stream} state checkpoint: cursor "
                   f"'{next(clock).isoformat()}', {rng.randint(1, 10**6)} records committed")


def dbt_noise(count: int, rng: random.Random) -> Iterator[str]:
    """Lines of a healthy dbt run with debug output: model starts/OKs, SQL statuses, connection reuse."""
    clock = _clock(datetime(2024, 5, 1, 1, 0, 0), 7)
    total = 40
    for index in range(count):
        stamp = next(clock).strftime("%H:%M:%S.%f")
        model = MODELS[index % len(MODELS)]
        number = index % total + 1
        roll = rng.random()
        if roll < 0.25:
            yield (f"{stamp} [info ] [Thread-{index % 4 + 1} (]: {number} of {total} OK created sql table model "
                   f"analytics.{model} ....................... [SELECT {rng.randint(1, 10**6)} in {rng.random() * 9:.2f}s]")
        elif roll < 0.45:
            yield f"{stamp} [debug] [Thread-{index % 4 + 1} (]: SQL status: SELECT {rng.randint(0, 10**6)} in {rng.random():.3f} seconds"
        elif roll < 0.60:
            yield f"{stamp} [debug] [Thread-{index % 4 + 1} (]: On model.ngo_analytics.{model}: BEGIN"
        elif roll < 0.75:
            yield (f"{stamp} [debug] [Thread-{index % 4 + 1} (]: Began running node model.ngo_analytics.{model}")
        elif roll < 0.85:
            yield (f"{stamp} [debug] [Thread-{index % 4 + 1} (]: Re-using an available connection from the pool "
                   f"(formerly model.ngo_analytics.{MODELS[(index + 3) % len(MODELS)]}, now model.ngo_analytics.{model})")
        elif roll < 0.93:
            yield f"{stamp} [info ] [Thread-{index % 4 + 1} (]: {number} of {total} START sql view model analytics.{model} .......... [RUN]"
        else:
            yield (f"{stamp} [warn ] [Thread-{index % 4 + 1} (]: Column 'beneficiary_age' in model {model} has "
                   f"{rng.randint(1, 999)} null values at row {rng.randint(1, 10**6)}")


def prefect_noise(count: int, rng: random.Random) -> Iterator[str]:
    """Lines of a healthy Prefect flow run: task runs created and completed, HTTP calls retried and fine."""
    clock = _clock(datetime(2024, 5, 1, 8, 0, 0), 25)
    for index in range(count):
        stamp = next(clock).strftime("%H:%M:%S.%f")[:-3]
        roll = rng.random()
        task = f"run-dbt-{index % 17}"
        if roll < 0.35:
            yield f"{stamp} | INFO    | Flow run 'daily-sync' - Created task run '{task}' for task 'dbt_job'"
        elif roll < 0.70:
            yield f"{stamp} | INFO    | Task run '{task}' - Finished in state Completed()"
        elif roll < 0.85:
            yield (f"{stamp} | INFO    | Task run '{task}' - Polling Airbyte job {rng.randint(1000, 99999)}: "
                   f"status running, {rng.randint(0, 10**6)} records emitted")
        else:
            yield (f"{stamp} | WARNING | Task run '{task}' - HTTP request timed out after {rng.randint(5, 60)}s; "
                   f"retrying in {rng.randint(1, 30)}s (attempt {rng.randint(1, 3)}/3)")


NOISE_BY_SYSTEM = {"airbyte": airbyte_noise, "dbt": dbt_noise, "prefect": prefect_noise}


def embedded_log(real_lines: Sequence[str], system: str, total_lines: int, seed: int = 7,
                 position: float = 0.8) -> Iterator[str]:
    """``total_lines`` lines: noise of the given system with ``real_lines`` embedded at ``position`` (0-1)
    of the log, noise continuing after it (other streams/models and end-of-run chatter)."""
    rng = random.Random(seed)
    noise_total = max(0, total_lines - len(real_lines))
    before = int(noise_total * position)
    noise = NOISE_BY_SYSTEM[system](noise_total, rng)
    for _ in range(before):
        yield next(noise)
    yield from real_lines
    yield from noise
