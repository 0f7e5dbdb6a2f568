"""Dalgo-shaped flows served as real Prefect deployments. Run with the prefect venv's python, from the
repository root, with PYTHONPATH set to it: `python harness/flows/dalgo_flows.py`.

Environment: PREFECT_API_URL (the server), AIRBYTE_STANDIN_URL (the Airbyte stand-in's Config API root).

Shapes follow Dalgo (see the contract): parameters are `{"config": {"org_slug", "tasks": [...]}}`, tasks run
in `seq` order and the first failure stops the rest; Airbyte syncs are subflows whose `payload` carries the
connection_id; dbt and shell steps are task runs named `dbtjob-<slug>` / `shellop-<slug>`. A `dbt test` whose
tests fail ends its task run, and then the run, as Completed named DBT_TEST_FAILED, as Dalgo's flows do.
"""

import os
import signal
import time
from datetime import datetime, timedelta, timezone

import httpx
from prefect import flow, get_run_logger, serve, task
from prefect.states import Completed, State

from harness.flows.catalog import (
    DBT_ERROR_DETAIL,
    DBT_ERROR_MODEL,
    DBT_TEST_FAILED,
    FAKE_SECRET_LOG_LINES,
    NESTED_DEPTH,
    PIPELINE_TIMEOUT_SECONDS,
    STEP_FAILS,
    STEP_GETS_SIGTERM,
    STEP_HANGS,
    STEP_TESTS_FAIL,
    dbt_error_line,
    dbt_test_failure_lines,
)

AIRBYTE_TASK_SLUGS = ("airbyte-sync", "airbyte-reset", "airbyte-clear")
# A sync looks for its job among those created this recently (the harness adds it just before the run).
SYNC_JOB_LOOKBACK = timedelta(minutes=5)
HANG_SECONDS = 60


def dbt_output(slug: str) -> list[str]:
    """What dbt prints before the outcome: enough to look like a real run."""
    command = slug.removeprefix("dbt-")
    return [
        f"Running with dbt=1.8.7 (dbt {command})",
        "Registered adapter: postgres=1.8.2",
        "Found 12 models, 4 data tests, 3 sources, 539 macros",
        "Concurrency: 4 threads (target='prod')",
        "1 of 12 START sql view model staging.stg_members ........................ [RUN]",
        "1 of 12 OK created sql view model staging.stg_members ................... [CREATE VIEW in 0.21s]",
    ]


def log_fake_secrets() -> None:
    """Log the fake secrets, as careless pipelines do, so tests can prove they never leave redacted."""
    logger = get_run_logger()
    for line in FAKE_SECRET_LOG_LINES:
        logger.info(line)


def end_step(outcome: str, failure: str) -> None:
    """End a step as told: return, raise `failure`, SIGTERM this flow-run process, or outlast the timeout."""
    logger = get_run_logger()
    if outcome == STEP_FAILS:
        raise RuntimeError(failure)
    if outcome == STEP_GETS_SIGTERM:
        logger.warning("worker is being shut down")
        # Give the log shipper one batch interval, then die as a killed container would.
        time.sleep(2.5)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(HANG_SECONDS)
    if outcome == STEP_HANGS:
        logger.info("waiting for the warehouse lock on schema staging ...")
        deadline = time.monotonic() + HANG_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.2)


def tests_failed() -> State:
    """Dalgo's state for failed dbt tests: COMPLETED type, so the pipeline goes on."""
    return Completed(name=DBT_TEST_FAILED, message="WARNING: dbt test failed")


@task
def dbtjob_v1(task_config: dict) -> str | State:
    """A dbt Core operation: realistic output, then the told outcome."""
    logger = get_run_logger()
    slug = task_config["slug"]
    for line in dbt_output(slug):
        logger.info(line)
    log_fake_secrets()
    outcome = task_config.get("harness_outcome", "")
    if outcome == STEP_TESTS_FAIL:
        for line in dbt_test_failure_lines():
            logger.error(line)
        return tests_failed()
    if outcome == STEP_FAILS:
        model = task_config.get("harness_model") or DBT_ERROR_MODEL
        logger.info(f"2 of 12 START sql table model staging.{model} ................... [RUN]")
        logger.error(f"2 of 12 ERROR creating sql table model staging.{model} .......... [ERROR in 0.08s]")
        logger.error(dbt_error_line(model))
        logger.error(f"  {DBT_ERROR_DETAIL}")
        logger.error("  LINE 4:     hh_size::int as household_size,")
        logger.info("Done. PASS=11 WARN=0 ERROR=1 SKIP=0 TOTAL=12")
    end_step(outcome, f"dbt {slug.removeprefix('dbt-')} failed with exit code 1")
    logger.info("Done. PASS=12 WARN=0 ERROR=0 SKIP=0 TOTAL=12")
    return "ok"


@task
def shellop_v1(task_config: dict) -> str:
    """A shell operation (git pull and the like)."""
    logger = get_run_logger()
    logger.info(f"running {task_config['slug']} in /data/dbt/ngo")
    outcome = task_config.get("harness_outcome", "")
    if outcome == STEP_FAILS:
        logger.error("fatal: could not read Username for 'https://github.com': terminal prompts disabled")
    end_step(outcome, f"{task_config['slug']} failed with exit code 128")
    logger.info("Already up to date.")
    return "ok"


def newest_sync_job(connection_id: str) -> dict | None:
    """The newest recent job of the connection on the Airbyte stand-in (what Dalgo's sync polls)."""
    now = datetime.now(timezone.utc)
    answer = httpx.post(
        f"{os.environ['AIRBYTE_STANDIN_URL']}/jobs/list",
        json={
            "configTypes": ["sync"],
            "configId": connection_id,
            "pagination": {"rowOffset": 0, "pageSize": 1},
            "createdAtStart": (now - SYNC_JOB_LOOKBACK).isoformat(),
            "createdAtEnd": (now + timedelta(minutes=1)).isoformat(),
        },
        timeout=10,
    )
    answer.raise_for_status()
    jobs = answer.json().get("jobs") or []
    return jobs[0] if jobs else None


@flow(name="run_airbyte_connection_flow_v1")
def run_airbyte_connection_flow(payload: dict) -> str:
    """An Airbyte sync as Dalgo runs it: a subflow that triggers the connection's job and waits for it."""
    logger = get_run_logger()
    connection_id = payload["connection_id"]
    logger.info(f"triggering Airbyte sync for connection {connection_id}")
    found = newest_sync_job(connection_id)
    if found is None:
        raise RuntimeError(f"Airbyte did not start a job for connection {connection_id}")
    job = found["job"]
    logger.info(f"Airbyte job {job['id']} for connection {connection_id}: {job['status']}")
    if job["status"] != "succeeded":
        raise RuntimeError(f"Job {job['id']} failed.")
    return str(job["id"])


def run_steps(config: dict) -> State | None:
    """Run the pipeline's tasks in seq order; the first failure propagates and stops the rest. Failed dbt tests
    do not stop it; the run then ends DBT_TEST_FAILED."""
    logger = get_run_logger()
    log_fake_secrets()
    any_tests_failed = False
    for task_config in sorted(config["tasks"], key=lambda t: t.get("seq") or 0):
        slug = task_config["slug"]
        logger.info(f"step {task_config.get('seq')}: {slug}")
        if slug in AIRBYTE_TASK_SLUGS:
            payload = {"connection_id": task_config["connection_id"], "flow_name": slug, "flow_run_name": slug}
            run_airbyte_connection_flow(payload=payload)
        elif slug.startswith("dbt"):
            state = dbtjob_v1.with_options(task_run_name=f"dbtjob-{slug}")(task_config, return_state=True)
            if state.name == DBT_TEST_FAILED:
                any_tests_failed = True
            else:
                state.result()  # a failed step raises here, as a plain call would
        else:
            shellop_v1.with_options(task_run_name=f"shellop-{slug}")(task_config)
    return tests_failed() if any_tests_failed else None


@flow(name="dalgo-pipeline")
def dalgo_pipeline(config: dict) -> State | None:
    """An orchestrated Dalgo pipeline: syncs, then transforms."""
    return run_steps(config)


@flow(name="dalgo-pipeline-with-timeout", timeout_seconds=PIPELINE_TIMEOUT_SECONDS)
def dalgo_pipeline_with_timeout(config: dict) -> None:
    """The same pipeline under a flow timeout, so a hanging step makes the run TimedOut."""
    run_steps(config)


@flow(name="dalgo-stage", flow_run_name="stage-{level}")
def stage(config: dict, level: int, depth: int) -> None:
    """One level of a chain of subflows; the innermost level runs the steps."""
    get_run_logger().info(f"entering stage {level} of {depth}")
    if level < depth:
        stage(config, level + 1, depth)
    else:
        run_steps(config)


@flow(name="dalgo-nested-pipeline")
def dalgo_nested_pipeline(config: dict) -> None:
    """The pipeline's steps wrapped in NESTED_DEPTH levels of subflows."""
    stage(config, 1, NESTED_DEPTH)


if __name__ == "__main__":
    serve(
        dalgo_pipeline.to_deployment(name="harness"),
        dalgo_nested_pipeline.to_deployment(name="harness"),
        dalgo_pipeline_with_timeout.to_deployment(name="harness"),
        pause_on_shutdown=False,
    )
