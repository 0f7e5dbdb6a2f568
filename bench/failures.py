"""Dalgo-shaped failed runs for the benchmarks, held by the Prefect stand-in: an org with a reader's token,
one orchestrated deployment (its data flow and org tasks stored with the harness's pipeline_parameters), and
failed runs whose dbt-run task logged a Database Error. Needs Django set up on the bench database."""

import datetime
import string
import uuid
from itertools import product

from django.contrib.auth import get_user_model

from ddpui.core.auth.api_tokens import issue_token
from ddpui.models import Org, OrgPreferences, OrgUser, OrgUserRole
from harness.dalgo_org import dbt_step, pipeline_parameters
from harness.flows.catalog import DBT_ERROR_DETAIL, STEP_FAILS, dbt_error_line
from standins.prefect_api import PrefectStandin

# Letters only: the fingerprint keeps identifiers such as model names but drops numbers, so each run's
# failure is its own (no reuse of an earlier summary) only if the names differ in letters.
MODEL_NAMES = ["stg_" + "".join(letters) for letters in product(string.ascii_lowercase, repeat=3)]


def bench_org() -> tuple[Org, str]:
    """An org and a live API token of an analyst in it (analysts get no failure email)."""
    org = Org.objects.create(name="Bench NGO", slug="bench-ngo")
    # Its admin opted in to LLM summaries, so the benches that use a model measure the model's path.
    OrgPreferences.objects.filter(org=org).update(llm_optin=True)
    user = get_user_model().objects.create(username="reader@bench.test", email="reader@bench.test")
    return org, issue_token(OrgUser.objects.create(user=user, org=org, role=OrgUserRole.ANALYST))


def deployment(org: Org) -> tuple[str, dict]:
    """A deployment of the org whose one step is dbt-run; returns its id and its runs' parameters."""
    deployment_id = str(uuid.uuid4())
    return deployment_id, pipeline_parameters(org, deployment_id, [dbt_step("dbt-run", STEP_FAILS)])


def dbt_log(model: str) -> list[str]:
    """What a failed `dbt run` logs."""
    return [
        "Running with dbt=1.8.2",
        "Found 12 models, 4 tests, 0 snapshots, 2 sources",
        f"1 of 12 START sql table model analytics.{model} ................ [RUN]",
        f"1 of 12 ERROR creating sql table model analytics.{model} ....... [ERROR in 0.21s]",
        dbt_error_line(model),
        f"  {DBT_ERROR_DETAIL}",
        "Done. PASS=0 WARN=0 ERROR=1 SKIP=11 TOTAL=12",
    ]


def add_failed_run(prefect: PrefectStandin, deployment_id: str, parameters: dict, index: int) -> dict:
    """A failed root run of the deployment in the stand-in: its dbt-run task run failed with its own model."""
    started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=2)
    run = prefect.add_flow_run(deployment_id=deployment_id, parameters=parameters, name=f"bench-run-{index}",
                               state_type="FAILED", state_name="Failed", message="Flow run encountered an exception.",
                               start_time=started)
    task = prefect.add_task_run(run["id"], name="dbtjob-dbt-run", state_type="FAILED", state_name="Failed")
    prefect.add_logs(dbt_log(MODEL_NAMES[index % len(MODEL_NAMES)]), flow_run_id=run["id"],
                     task_run_id=task["id"], level=40)
    return run


def failure_body(run: dict) -> dict:
    """Dalgo's webhook body for the run's failure."""
    return {"body": f"Flow run {run['name']} with id {run['id']} entered state Failed"}
