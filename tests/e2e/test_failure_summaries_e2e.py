"""End to end against a real Prefect 3 server: Dalgo-shaped runs fail for real, Prefect's automation calls our
gunicorn-served webhook, a real qcluster handles it, and the stored summaries are checked here.

All offline scenarios start at once (the suite stays short); the LLM scenario then restarts the cluster with
OPENAI_* pointed at the LLM stand-in.
"""

import json
import uuid
from dataclasses import dataclass

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from prefect.client.orchestration import SyncPrefectClient

from ddpui.models import (
    LlmSession,
    Notification,
    NotificationStatus,
    Org,
    OrgPreferences,
    OrgTask,
    PrefectFlowRun,
    TaskLock,
)
from harness.app import run_manage
from harness.flow_runs import read_run
from harness.flows.catalog import (
    DBT_ERROR_DETAIL,
    DBT_TEST_FAILED,
    FAILING_DBT_TEST,
    FAKE_SECRET_VALUES,
    dbt_error_line,
)
from harness.scenarios import (
    NEW_SYNC_FAILURE,
    OLD_SYNC_FAILURE,
    ScenarioRun,
    dbt_failure_after_sync,
    dbt_tests_fail,
    finish_scenario,
    nested_subflow_fails,
    run_completes,
    run_crashes,
    run_times_out,
    second_sync_fails,
    start_scenario,
)
from harness.stack import DalgoStack
from standins.llm_api import LlmStandin, estimate_tokens

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

ALIAS = "e2e"
ORG_SLUG = "harness-ngo"
# The prompt around the budgeted excerpt: instructions, the step's description and the output schema.
PROMPT_OVERHEAD_TOKENS = 1500


@dataclass
class OfflineRuns:
    """The offline scenarios, finished."""

    dbt_after_sync: ScenarioRun
    second_sync: ScenarioRun
    nested: ScenarioRun
    crash: ScenarioRun
    timeout: ScenarioRun
    completes: ScenarioRun
    tests_fail: ScenarioRun


def harness_org(stack: DalgoStack) -> Org:
    """The org of the runs, made by the project's own `create_org` command."""
    if not Org.objects.using(ALIAS).filter(slug=ORG_SLUG).exists():
        run_manage(stack.env, "create_org", "--name", "Harness NGO", "--email", "manager@harness.test", "--slug", ORG_SLUG)
    # Its admin opted in to LLM summaries (Dalgo's llm_optin), so the LLM tests get the model's summary.
    OrgPreferences.objects.using(ALIAS).filter(org__slug=ORG_SLUG).update(llm_optin=True, llm_optin_date=timezone.now())
    return Org.objects.using(ALIAS).get(slug=ORG_SLUG)


def record_timing(stack: DalgoStack, run: ScenarioRun) -> None:
    """Print the run's timeline and keep it for the terminal summary."""
    line = run.timeline.render(run.scenario.name)
    print(line)
    stack.notes.append(line)


def lock_run_tasks(run: ScenarioRun) -> int:
    """Lock the run's org tasks for it, as Dalgo does when it starts a run; returns how many."""
    uuids = [task["orgtask_uuid"] for task in run.parameters["config"]["tasks"]]
    for orgtask in OrgTask.objects.using(ALIAS).filter(uuid__in=uuids):
        TaskLock.objects.using(ALIAS).create(orgtask=orgtask, flow_run_id=run.flow_run_id)
    return len(uuids)


@pytest.fixture(scope="session")
def offline_runs(e2e_stack, django_db_blocker) -> OfflineRuns:
    """Start every offline scenario at once, then wait for each run's end and summary."""
    with django_db_blocker.unblock():
        org = harness_org(e2e_stack)
        airbyte = e2e_stack.airbyte
        scenarios = {
            "dbt_after_sync": dbt_failure_after_sync(airbyte),
            "second_sync": second_sync_fails(airbyte),
            "nested": nested_subflow_fails(),
            "crash": run_crashes(),
            "timeout": run_times_out(),
            "completes": run_completes(airbyte),
            "tests_fail": dbt_tests_fail(),
        }
        started = {name: start_scenario(e2e_stack, org, scenario, using=ALIAS) for name, scenario in scenarios.items()}
        lock_run_tasks(started["completes"])
        runs = OfflineRuns(**{name: finish_scenario(e2e_stack, run, using=ALIAS) for name, run in started.items()})
        for run in vars(runs).values():
            if run.timeline:
                record_timing(e2e_stack, run)
        return runs


def assert_no_secret(text: str, where: str) -> None:
    """None of the fake secrets the flows logged appears in `text`."""
    leaked = [secret for secret in FAKE_SECRET_VALUES if secret in text]
    assert not leaked, f"{where} holds secrets in clear: {leaked}"


def stored_text(session: LlmSession) -> str:
    """Everything a summary row stores that a person or a model reads."""
    return json.dumps(
        [session.excerpt, session.evidence, session.title, session.summary, session.root_cause, session.fix_steps,
         session.failed_step, session.response, session.assistant_prompt],
        default=str,
    )


def test_dbt_failure_after_a_sync_names_the_dbt_step(offline_runs):
    """The failed step is the dbt step (not the sync before it) and the evidence holds dbt's error."""
    session = offline_runs.dbt_after_sync.session
    step = session.failed_step
    assert session.status == "ready", session.last_error
    assert step["kind"] == "dbt" and step["label"] == "dbtjob-dbt-run" and step["task_slug"] == "dbt-run", step
    assert not step.get("connection_id"), step
    assert dbt_error_line("stg_households") in session.excerpt
    assert DBT_ERROR_DETAIL in session.excerpt
    assert session.provider == "offline"


def test_second_sync_failure_summarizes_this_runs_job_of_that_connection(offline_runs):
    """The summary is about the failing connection's job of THIS run, not its older failed job."""
    run = offline_runs.second_sync
    facts = run.scenario.facts
    step = run.session.failed_step
    assert run.session.status == "ready", run.session.last_error
    assert step["kind"] == "airbyte" and step["connection_id"] == facts["connection_id"], step
    assert step["airbyte_job_id"] == facts["job_id"] != facts["old_job_id"], step
    assert run.session.airbyte_job_id == facts["job_id"]
    assert NEW_SYNC_FAILURE in run.session.excerpt
    assert OLD_SYNC_FAILURE not in stored_text(run.session)


def test_nested_subflow_failure_names_the_innermost_task_with_its_own_logs(offline_runs, e2e_stack):
    """Three subflows down, the failed step is the task that raised; its logs, not its siblings' or parents'."""
    run = offline_runs.nested
    step = run.session.failed_step
    assert run.session.status == "ready", run.session.last_error
    assert step["kind"] == "dbt" and step["label"] == "dbtjob-dbt-run", step
    assert step["log_scope"] == "task_run" and step["task_run_id"], step
    assert len(step["path"]) == 3, step["path"]
    innermost = read_run(e2e_stack.prefect.api_url, step["flow_run_id"])
    assert innermost.name == "stage-3" and str(innermost.id) != run.flow_run_id
    assert dbt_error_line("int_nested_households") in run.session.excerpt
    assert "(dbt deps)" not in run.session.excerpt, "a sibling task's logs were included"
    assert "entering stage" not in run.session.excerpt, "a parent flow's logs were included"


def real_failed_path(api_url: str, step: dict, root_id: str) -> list[str]:
    """The failed step's path as the real Prefect server has it, walked up from the step to the root run:
    per subflow level its placeholder task run and its flow run, then the failed task run (if any)."""
    path = [step["task_run_id"]] if step.get("task_run_id") else []
    with SyncPrefectClient(api_url) as client:
        flow_run = client.read_flow_run(step["flow_run_id"])
        while flow_run.parent_task_run_id:
            path[:0] = [str(flow_run.parent_task_run_id), str(flow_run.id)]
            flow_run = client.read_flow_run(client.read_task_run(flow_run.parent_task_run_id).flow_run_id)
    assert str(flow_run.id) == root_id
    return path


@pytest.mark.parametrize("name, nodes", [("nested", 7), ("second_sync", 2)])
def test_every_node_of_a_real_failed_path_is_recorded_for_dalgos_ui(offline_runs, e2e_stack, name, nodes):
    """The ids a user may click in the run's graph (each subflow, its placeholder, the failed task) are on the
    stored row, as the real server names them: any of them finds this summary."""
    run = getattr(offline_runs, name)
    run.session.refresh_from_db()
    expected = real_failed_path(e2e_stack.prefect.api_url, run.session.failed_step, run.flow_run_id)
    assert run.session.node_ids == expected and len(expected) == nodes, (run.session.node_ids, expected)


def test_failed_dbt_tests_are_summarized_from_the_failing_tests(offline_runs):
    """A run that ends DBT_TEST_FAILED (Dalgo's COMPLETED-type state) is summarized like a failed one."""
    run = offline_runs.tests_fail
    assert run.flow_run.state.name == DBT_TEST_FAILED and run.flow_run.state.type.value == "COMPLETED"
    assert run.session.status == "ready", run.session.last_error
    step = run.session.failed_step
    assert step["label"] == "dbtjob-dbt-test" and step["task_slug"] == "dbt-test", step
    assert run.session.category == "data_quality_test"
    assert FAILING_DBT_TEST in " ".join(line["text"] for line in run.session.evidence)


@pytest.mark.parametrize("name, state_name, evidence", [
    ("crash", "Crashed", "termination signal"),
    ("timeout", "TimedOut", "exceeded timeout"),
])
def test_crashed_and_timed_out_runs_get_a_summary(offline_runs, name, state_name, evidence):
    """Crashed and TimedOut runs are summarized, with Prefect's state message as evidence."""
    run = getattr(offline_runs, name)
    assert run.flow_run.state.name == state_name
    assert run.session.status == "ready", run.session.last_error
    assert evidence in run.session.excerpt


def test_completed_run_has_no_summary_and_updates_row_and_locks(offline_runs):
    """A completed run: no summary; the PrefectFlowRun row says COMPLETED and its task locks are released."""
    run = offline_runs.completes
    assert run.flow_run.state.name == "Completed"
    assert not LlmSession.objects.using(ALIAS).filter(flow_run_id=run.flow_run_id).exists()
    row = PrefectFlowRun.objects.using(ALIAS).get(flow_run_id=run.flow_run_id)
    assert row.status == "COMPLETED" and row.state_name == "Completed"
    assert row.deployment_id == str(run.flow_run.deployment_id)
    assert not TaskLock.objects.using(ALIAS).filter(flow_run_id=run.flow_run_id).exists()


def test_automation_json_body_is_what_prefect_sent(offline_runs):
    """Prefect's automation delivered our JSON template, once per run end, handled without errors."""
    for run in vars(offline_runs).values():
        notifications = Notification.objects.using(ALIAS).filter(
            flow_run_id=run.flow_run_id, state_name=run.flow_run.state.name, body_format="automation_json"
        )
        assert notifications.count() == 1, run.scenario.name
        notification = notifications.get()
        assert notification.status == NotificationStatus.HANDLED, notification.step_errors
        assert notification.payload["deployment_id"] == str(run.flow_run.deployment_id)


def test_dalgo_text_body_notification_is_handled(offline_runs, e2e_stack, wait_for):
    """Dalgo's custom-webhook text body for a crashed run is accepted and handled; still one summary."""
    run = offline_runs.crash
    body = {"body": f"Flow run {run.flow_run.name} with id {run.flow_run_id} entered state Crashed"}
    answer = httpx.post(e2e_stack.webhook_url, json=body, timeout=10,
                        headers={"X-Notification-Key": e2e_stack.config.webhook_key})
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    notification = Notification.objects.using(ALIAS).get(flow_run_id=run.flow_run_id, body_format="text")

    def left_received() -> bool:
        notification.refresh_from_db()
        return notification.status != NotificationStatus.RECEIVED

    wait_for(left_received, timeout=10, interval=0.1, what="the text-body notification handled")
    assert notification.status == NotificationStatus.HANDLED, notification.step_errors
    assert "enqueue_summary" in notification.steps_done
    assert LlmSession.objects.using(ALIAS).filter(flow_run_id=run.flow_run_id).count() == 1


def test_webhook_refuses_a_wrong_key(e2e_stack):
    """The served webhook refuses a caller without our key."""
    answer = httpx.post(e2e_stack.webhook_url, json={"body": "x"}, headers={"X-Notification-Key": "wrong"}, timeout=10)
    assert answer.status_code == 401


def test_no_secret_is_stored_in_clear(offline_runs):
    """What the flows logged as secrets is redacted in every stored summary and notification."""
    for run in vars(offline_runs).values():
        if run.session:
            assert_no_secret(stored_text(run.session), f"summary of '{run.scenario.name}'")
        for payload in Notification.objects.using(ALIAS).filter(flow_run_id=run.flow_run_id).values_list("payload", flat=True):
            assert_no_secret(json.dumps(payload), "a notification")


def test_setup_command_is_idempotent_and_check_passes(e2e_stack):
    """A second setup run changes nothing; --check says configured; the output holds no key."""
    again = run_manage(e2e_stack.env, "setup_prefect_webhook", "--url", e2e_stack.webhook_url)
    assert "created" not in again and "updated" not in again, again
    assert again.count("unchanged") == 2, again
    check = run_manage(e2e_stack.env, "setup_prefect_webhook", "--check", "--url", e2e_stack.webhook_url)
    assert "configured" in check
    for output in (e2e_stack.setup_output, again, check):
        assert e2e_stack.config.webhook_key not in output


@pytest.fixture(scope="session")
def llm_run(e2e_stack, offline_runs, django_db_blocker):
    """A dbt failure summarized by the model: the cluster restarted with OPENAI_* set to the LLM stand-in."""
    llm = LlmStandin().start()
    try:
        e2e_stack.restart_cluster(openai_api_key=f"sk-harness-{uuid.uuid4().hex}", openai_base_url=llm.base_url)
        with django_db_blocker.unblock():
            org = Org.objects.using(ALIAS).get(slug=ORG_SLUG)
            scenario = dbt_failure_after_sync(e2e_stack.airbyte, failing_model="fct_llm_attendance")
            scenario.name += ", summarized by the LLM stand-in"
            run = finish_scenario(e2e_stack, start_scenario(e2e_stack, org, scenario, using=ALIAS), using=ALIAS)
        record_timing(e2e_stack, run)
        yield run, llm
    finally:
        llm.stop()
        e2e_stack.restart_cluster(openai_api_key="", openai_base_url="")


def test_llm_receives_no_secret_and_stays_within_budget(llm_run):
    """One model call per failure; what it was sent holds no secret and fits the token budget."""
    run, llm = llm_run
    assert run.session.status == "ready", run.session.last_error
    assert run.session.provider != "offline", (run.session.provider, run.session.last_error)
    prompts = llm.prompts()
    assert len(prompts) == 1, f"{len(prompts)} model calls for one failure"
    assert_no_secret(prompts[0], "the LLM request")
    assert dbt_error_line("fct_llm_attendance") in prompts[0]
    tokens = estimate_tokens(prompts[0])
    print(f"LLM request: about {tokens} tokens; SUMMARY_TOKEN_BUDGET {settings.SUMMARY_TOKEN_BUDGET}")
    assert tokens <= settings.SUMMARY_TOKEN_BUDGET + PROMPT_OVERHEAD_TOKENS
    assert_no_secret(stored_text(run.session), "the LLM summary")


def test_app_logs_hold_no_secret(offline_runs, e2e_stack):
    """gunicorn's and the qcluster's own logs never show what the flows logged as secrets."""
    for process in (e2e_stack.web, e2e_stack.cluster):
        assert_no_secret(process.log_path.read_text(errors="replace"), f"{process.name}'s log")
