"""The Dalgo-shaped failures (and one success) the e2e tests and the demo run: what each one sets up on the
Airbyte stand-in, which deployment it runs with which steps, and what the summary should then say.

Start them all at once (start_scenario), then wait for each run's end and summary (finish_scenario).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from prefect.client.schemas.objects import FlowRun

from ddpui.models import LlmSession, Org
from harness.dalgo_org import airbyte_step, dbt_step, pipeline_parameters
from harness.flow_runs import start_run, wait_for_end
from harness.flows.catalog import (
    FAKE_DATABASE_URL,
    NESTED_PIPELINE_DEPLOYMENT,
    PIPELINE_DEPLOYMENT,
    STEP_FAILS,
    STEP_GETS_SIGTERM,
    STEP_HANGS,
    STEP_TESTS_FAIL,
    TIMEOUT_PIPELINE_DEPLOYMENT,
)
from harness.stack import DalgoStack
from harness.timeline import SummaryTimeline, timeline_of, wait_for_summary
from standins.airbyte_api import AirbyteStandin, failure

RUN_TIMEOUT_SECONDS = 120
# From a run's end to its stored summary without a model (logs settle, the cluster picks the task up).
SUMMARY_TIMEOUT_SECONDS = 60
# What the app uses when LLM_TIMEOUT_SECONDS is not set (ddpui/settings.py).
DEFAULT_LLM_TIMEOUT_SECONDS = 45.0
# Old enough to fall outside any run's window (runs take seconds; the window margin is minutes).
OLD_JOB_AGE = timedelta(minutes=30)
NEW_SYNC_FAILURE = "Failure in destination: permission denied for schema staging"
OLD_SYNC_FAILURE = "Failure in source: Invalid credentials for the KoboToolbox API (last week's failure)"


@dataclass
class Scenario:
    """One run to make: a deployment, its steps, and Airbyte jobs to add first (returning facts to check)."""

    name: str
    deployment: str
    steps: list[dict]
    facts: dict[str, Any] = field(default_factory=dict)
    expects_summary: bool = True


@dataclass
class ScenarioRun:
    """A started scenario, then its final flow run, stored summary and timeline."""

    scenario: Scenario
    flow_run_id: str
    parameters: dict
    flow_run: FlowRun | None = None
    session: LlmSession | None = None
    timeline: SummaryTimeline | None = None


def succeeded_sync(airbyte: AirbyteStandin) -> str:
    """A new connection whose sync job of this run succeeds; returns its id."""
    connection_id = str(uuid.uuid4())
    airbyte.add_job(connection_id, "succeeded", attempts=[{"log_lines": ["replication finished: 120 records"]}],
                    records=120)
    return connection_id


def dbt_failure_after_sync(airbyte: AirbyteStandin, *, failing_model: str = "stg_households") -> Scenario:
    """A sync that succeeds, then `dbt run` fails on a model."""
    connection_id = succeeded_sync(airbyte)
    return Scenario(
        name="dbt fails after a sync",
        deployment=PIPELINE_DEPLOYMENT,
        steps=[airbyte_step(connection_id), dbt_step("dbt-run", STEP_FAILS, failing_model=failing_model)],
        facts={"failing_model": failing_model},
    )


def second_sync_fails(airbyte: AirbyteStandin) -> Scenario:
    """Two syncs; the second connection's job of this run fails. The same connection also has an older failed
    job (from before the run) with a different error: it must not be the one summarized."""
    first = succeeded_sync(airbyte)
    second = str(uuid.uuid4())
    old = airbyte.add_job(
        second, "failed", datetime.now(timezone.utc) - OLD_JOB_AGE,
        attempts=[{"failures": [failure(OLD_SYNC_FAILURE, origin="source", failure_type="config_error")],
                   "log_lines": [f"ERROR source > {OLD_SYNC_FAILURE}"]}],
    )
    new = airbyte.add_job(
        second, "failed",
        attempts=[
            {"failures": [failure(NEW_SYNC_FAILURE, origin="destination", failure_type="system_error")],
             "log_lines": [
                 "INFO replication-orchestrator > starting replication of 3 streams",
                 f"INFO destination > connecting to {FAKE_DATABASE_URL}",
                 "ERROR destination > org.postgresql.util.PSQLException: ERROR: permission denied for schema staging",
                 f"ERROR destination > {NEW_SYNC_FAILURE}",
             ]},
        ],
    )
    return Scenario(
        name="the second of two syncs fails",
        deployment=PIPELINE_DEPLOYMENT,
        steps=[airbyte_step(first), airbyte_step(second), dbt_step("dbt-run")],
        facts={"connection_id": second, "job_id": new["job"]["id"], "old_job_id": old["job"]["id"]},
    )


def nested_subflow_fails() -> Scenario:
    """Three levels of subflows; in the innermost, `dbt deps` succeeds and `dbt run` fails."""
    return Scenario(
        name="a task fails three subflows down",
        deployment=NESTED_PIPELINE_DEPLOYMENT,
        steps=[dbt_step("dbt-deps"), dbt_step("dbt-run", STEP_FAILS, failing_model="int_nested_households")],
        facts={"failing_model": "int_nested_households"},
    )


def dbt_tests_fail() -> Scenario:
    """`dbt run` succeeds, then `dbt test` finds bad rows: the run ends DBT_TEST_FAILED (Dalgo's state)."""
    return Scenario(name="dbt tests fail", deployment=PIPELINE_DEPLOYMENT,
                    steps=[dbt_step("dbt-run"), dbt_step("dbt-test", STEP_TESTS_FAIL)])


def run_crashes() -> Scenario:
    """The flow-run process gets SIGTERM in the middle of `dbt run`."""
    return Scenario(name="the run crashes (SIGTERM)", deployment=PIPELINE_DEPLOYMENT,
                    steps=[dbt_step("dbt-run", STEP_GETS_SIGTERM)])


def run_times_out() -> Scenario:
    """`dbt run` hangs past the flow's timeout."""
    return Scenario(name="the run times out", deployment=TIMEOUT_PIPELINE_DEPLOYMENT,
                    steps=[dbt_step("dbt-run", STEP_HANGS)])


def run_completes(airbyte: AirbyteStandin) -> Scenario:
    """A sync and `dbt run`, both fine."""
    return Scenario(name="the run completes", deployment=PIPELINE_DEPLOYMENT,
                    steps=[airbyte_step(succeeded_sync(airbyte)), dbt_step("dbt-run")], expects_summary=False)


def start_scenario(stack: DalgoStack, org: Org, scenario: Scenario, *, using: str = "default") -> ScenarioRun:
    """Store the Dalgo records and start the run (the runner picks it up within a second)."""
    deployment_id = stack.flows.deployment_ids[scenario.deployment]
    parameters = pipeline_parameters(org, deployment_id, scenario.steps, using=using)
    return ScenarioRun(scenario=scenario, flow_run_id=start_run(stack.flows, scenario.deployment, parameters),
                       parameters=parameters)


def summary_wait_seconds(env: dict[str, str]) -> float:
    """How long a run's summary may take in the app with environment `env`: with a model, up to two calls of
    LLM_TIMEOUT_SECONDS each (a refused response format is asked again) on top of the offline bound."""
    if not env.get("OPENAI_API_KEY"):
        return SUMMARY_TIMEOUT_SECONDS
    return SUMMARY_TIMEOUT_SECONDS + 2 * float(env.get("LLM_TIMEOUT_SECONDS") or DEFAULT_LLM_TIMEOUT_SECONDS)


def finish_scenario(
    stack: DalgoStack, run: ScenarioRun, *, using: str = "default", progress: Callable[[float], None] | None = None
) -> ScenarioRun:
    """Wait for the run's end and, if one is expected, its stored summary; measure the way there."""
    run.flow_run = wait_for_end(stack.flows, run.flow_run_id, timeout=RUN_TIMEOUT_SECONDS, progress=progress)
    if run.scenario.expects_summary:
        run.session = wait_for_summary(run.flow_run_id, using=using, timeout=summary_wait_seconds(stack.env),
                                       progress=progress)
        run.timeline = timeline_of(run.flow_run, run.session, using)
    return run
