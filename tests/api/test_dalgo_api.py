"""Dalgo's endpoints as its frontends call them: logsummary (flow run and connection) and the progress poll.

A stored summary answers on the first poll with Dalgo's two result pairs, whichever node of the failed path was
clicked; ids that are not the run's or the connection's are refused before anything is read or written;
nothing internal (prompt, excerpt, traceback, server path) is ever answered; `regenerate` cannot spend money.
"""

import datetime
import uuid

import pytest
from django.utils import timezone
from django_q.models import OrmQ
from model_bakery import baker

from ddpui.clients.prefect import read_flow_run
from ddpui.core.summaries.pipeline import produce_session, summarize_flow_run
from ddpui.core.summaries.public import FIX_PROMPT, NOT_MADE, SUMMARY_PROMPT
from ddpui.models import AirbyteJob, LlmSession, Org, OrgTask, SummaryRegeneration, SummaryStatus

pytestmark = pytest.mark.django_db


def get(client, url, token=None):
    """GET with an optional bearer token."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(url, **headers)


def minutes_ago(minutes: float) -> datetime.datetime:
    """An aware time `minutes` before now."""
    return timezone.now() - datetime.timedelta(minutes=minutes)


@pytest.fixture
def ready_session(org) -> LlmSession:
    """A ready failure summary of a run of `org`, made an hour ago (regenerate is allowed)."""
    return baker.make(
        LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="task:x", task_id=str(uuid.uuid4()),
        status=SummaryStatus.READY, title="dbt-run: a column is missing", summary="The model failed.",
        root_cause="column id missing", category="schema", fix_steps=["Fix the column", "2. Run the pipeline again"],
        evidence=[{"line": 6, "text": "column \"id\" does not exist"}], failed_step={"kind": "dbt"},
        provider="openai", trigger="failure", response=[{"prompt": "p", "response": "r"}], ready_at=minutes_ago(60),
    )


def progress(client, token, task_id) -> list[dict]:
    """The progress list of one poll."""
    response = get(client, f"/api/tasks/stp/{task_id}", token)
    assert response.status_code == 200, response.content
    return response.json()["progress"]


def logsummary(client, token, flow_run_id, **params):
    """The flow-run logsummary request."""
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return get(client, f"/api/prefect/v1/flow_runs/{flow_run_id}/logsummary?{query}", token)


# ---- the result shape (item 5) -------------------------------------------------------------------------------

def test_completed_entry_has_dalgos_two_pairs_in_order(client, token, ready_session):
    task_id = logsummary(client, token, ready_session.flow_run_id).json()["task_id"]
    assert task_id == str(ready_session.public_id)
    assert progress(client, token, task_id) == [{
        "message": "Summary ready",
        "status": "completed",
        "result": [
            {"prompt": SUMMARY_PROMPT, "response": "The model failed.\n\nRoot cause: column id missing"},
            {"prompt": FIX_PROMPT, "response": "1. Fix the column\n2. Run the pipeline again"},
        ],
    }]
    assert SUMMARY_PROMPT == "Summarize the primary error that occurred in this run"
    assert FIX_PROMPT == "What steps can I take to solve the error you identified?"
    assert OrmQ.objects.count() == 0


def test_a_made_summary_stores_the_same_two_pairs_and_no_prompt(client, token, dalgo_runs, llm_api):
    run, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run)
    session = summarize_flow_run(run["id"])
    assert [pair["prompt"] for pair in session.response] == [SUMMARY_PROMPT, FIX_PROMPT]
    assert session.response[1]["response"].startswith("1. ")
    result = progress(client, token, session.public_id)[0]["result"]
    assert result == session.response
    assert session.assistant_prompt and session.assistant_prompt not in str(result)


@pytest.mark.parametrize("key", ["not-a-uuid", "123", str(uuid.uuid4()), "%20", "0" * 400, "'%3B--"])
def test_an_unknown_or_garbage_task_key_is_400_no_such_task_id(client, token, key):
    response = get(client, f"/api/tasks/stp/{key}", token)
    assert response.status_code == 400 and response.json() == {"detail": "no such task id"}


def test_another_orgs_task_key_is_400_no_such_task_id(client, other_org_token, ready_session):
    response = get(client, f"/api/tasks/stp/{ready_session.public_id}", other_org_token)
    assert response.status_code == 400 and response.json() == {"detail": "no such task id"}


INTERNALS = ["PROMPT-MARKER", "EXCERPT-MARKER", "Traceback", 'File "', "/srv/ddpui", "/home/ddp/clientdbts",
             "127.0.0.1:4200", "C:\\Users"]


@pytest.mark.parametrize("status", [SummaryStatus.READY, SummaryStatus.FAILED, SummaryStatus.PENDING])
def test_no_read_endpoint_answers_a_prompt_excerpt_traceback_or_server_path(client, token, org, status):
    traceback = ('Traceback (most recent call last):\n  File "/srv/ddpui/ddpui/core/summaries/pipeline.py", line 9, in produce\n'
                 "    evidence = gather_evidence(step, root)\nRuntimeError: boom")
    session = baker.make(
        LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="task:t", status=status, trigger="failure",
        title="dbt failed in /home/ddp/clientdbts/ngo/dbtrepo", summary=f"It failed.\n{traceback}",
        root_cause="see C:\\Users\\ddp\\x.py", fix_steps=["Open /home/ddp/clientdbts/ngo/models/stg.sql"],
        evidence=[{"line": 3, "text": '  File "/srv/ddpui/x.py", line 3, in f'}, {"line": 4, "text": "ValueError: bad"}],
        failed_step={"kind": "dbt", "state_message": f"Task run failed: {traceback}", "label": "dbtjob-dbt-run"},
        assistant_prompt="PROMPT-MARKER", excerpt="EXCERPT-MARKER", response=[{"prompt": "PROMPT-MARKER", "response": "x"}],
        last_error=f"Prefect API at http://127.0.0.1:4200/api failed: {traceback}", requested_at=minutes_ago(30),
    )
    urls = [f"/api/v1/flow_runs/{session.flow_run_id}/summary", "/api/v1/summaries",
            f"/api/tasks/stp/{session.public_id}", f"/api/prefect/v1/flow_runs/{session.flow_run_id}/logsummary"]
    for url in urls:
        response = get(client, url, token)
        assert response.status_code == 200, (url, response.content)
        text = response.content.decode()
        leaked = [marker for marker in INTERNALS if marker in text]
        assert not leaked, (url, leaked, text[:600])
    body = get(client, f"/api/v1/flow_runs/{session.flow_run_id}/summary", token).json()
    assert body["evidence"] == [{"line": 4, "text": "ValueError: bad"}]
    assert body["title"] == "dbt failed in …/dbtrepo"


# ---- the node the user clicked (item 3) ----------------------------------------------------------------------

@pytest.fixture
def failed_sync_run(dalgo_runs, prefect_api):
    """A pipeline whose second Airbyte sync failed inside its subflow (Dalgo's shape: the sync subflow's inner
    task failed), with the ids of every node of the failed path."""
    run, connections = dalgo_runs.pipeline(connections=2)
    ok_child = dalgo_runs.sync_subflow(run, connections[0], failed=False)
    child = dalgo_runs.sync_subflow(run, connections[1], failed=True, name="airbyte-sync-trigger")
    inner = prefect_api.add_task_run(child, name="wait-for-airbyte-sync", state_type="FAILED", state_name="Failed")
    prefect_api.add_log("Airbyte job 12 failed: source returned 403", flow_run_id=child, task_run_id=inner["id"], level=40)
    placeholder = str(read_flow_run(child).parent_task_run_id)
    ok_placeholder = str(read_flow_run(ok_child).parent_task_run_id)
    return {"run": run, "child": child, "placeholder": placeholder, "inner": inner["id"],
            "ok_child": ok_child, "ok_placeholder": ok_placeholder}


@pytest.mark.parametrize("node", ["child", "placeholder", "inner"])
def test_any_node_of_the_failed_path_answers_the_stored_summary_on_the_first_poll(
    client, token, failed_sync_run, node, llm_api, prefect_api, airbyte_api
):
    run = failed_sync_run["run"]
    stored = summarize_flow_run(run["id"])
    assert stored.status == SummaryStatus.READY and llm_api.request_count == 1
    assert set(stored.node_ids) == {failed_sync_run["placeholder"], failed_sync_run["child"], failed_sync_run["inner"]}
    for stand_in in (llm_api, prefect_api, airbyte_api):
        stand_in.clear_requests()
    OrmQ.objects.all().delete()

    response = logsummary(client, token, run["id"], task_id=failed_sync_run[node])

    assert response.status_code == 200 and response.json()["task_id"] == str(stored.public_id)
    assert progress(client, token, stored.public_id)[0]["status"] == "completed"
    assert llm_api.request_count == 0 and prefect_api.request_count == 0 and airbyte_api.request_count == 0
    assert LlmSession.objects.count() == 1 and OrmQ.objects.count() == 0


def test_a_failed_path_node_clicked_before_the_summary_exists_makes_the_failure_row_only(
    client, token, failed_sync_run, llm_api
):
    run = failed_sync_run["run"]
    task_id = logsummary(client, token, run["id"], task_id=failed_sync_run["child"]).json()["task_id"]
    row = LlmSession.objects.get()
    assert str(row.public_id) == task_id and row.trigger == "failure"
    assert failed_sync_run["inner"] in row.node_ids
    automatic = summarize_flow_run(run["id"])  # the webhook's summary arrives: the same row, one model call
    assert automatic.pk == row.pk and LlmSession.objects.count() == 1
    produce_session(row.pk)  # the queued on-demand task finds the row done
    assert llm_api.request_count == 1


def test_another_node_of_the_run_gets_its_own_on_demand_summary(client, token, failed_sync_run):
    run = failed_sync_run["run"]
    by_child = logsummary(client, token, run["id"], task_id=failed_sync_run["ok_child"]).json()["task_id"]
    by_placeholder = logsummary(client, token, run["id"], task_id=failed_sync_run["ok_placeholder"]).json()["task_id"]
    row = LlmSession.objects.get(public_id=by_child)
    assert by_placeholder == by_child, "a subflow is one node, whichever of its two ids was clicked"
    assert row.trigger == "on_demand" and row.task_id == failed_sync_run["ok_child"]
    assert [item.task["func"] for item in OrmQ.objects.all()] == ["tasks.summaries.produce_session_summary"] * 2


def test_a_task_id_that_is_no_node_of_the_run_is_400_whoever_it_belongs_to(
    client, token, other_org_token, failed_sync_run, dalgo_runs, prefect_api
):
    run = failed_sync_run["run"]
    other_run, _ = dalgo_runs.pipeline(connections=0)  # another run of the same org
    other_task = dalgo_runs.dbt_task(other_run)
    foreign_run = prefect_api.add_flow_run(name="theirs", parameters={"config": {"org_slug": "ngo-two"}})
    foreign_task = prefect_api.add_task_run(foreign_run["id"], name="dbtjob-dbt-run", state_type="FAILED")
    for task_id in (other_task["id"], foreign_task["id"], str(uuid.uuid4()), other_run["id"]):
        response = logsummary(client, token, run["id"], task_id=task_id)
        assert response.status_code == 400, (task_id, response.content)
        assert task_id not in response.content.decode()
    for garbage in ("not-a-uuid", "1", "'%3B--"):
        assert logsummary(client, token, run["id"], task_id=garbage).status_code == 400
    assert LlmSession.objects.count() == 0 and OrmQ.objects.count() == 0
    # Someone else's run with the caller's node: the run is not theirs.
    assert logsummary(client, other_org_token, run["id"], task_id=failed_sync_run["inner"]).status_code == 404


def test_a_stored_row_without_node_ids_is_still_found_by_its_task_id(client, token, ready_session, prefect_api):
    task_id = logsummary(client, token, ready_session.flow_run_id, task_id=ready_session.task_id).json()["task_id"]
    assert task_id == str(ready_session.public_id) and prefect_api.request_count == 0


def test_logsummary_of_another_orgs_run_is_404(client, other_org_token, dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0)
    assert logsummary(client, other_org_token, run["id"]).status_code == 404
    assert LlmSession.objects.count() == 0


# ---- connection logsummary (item 4) --------------------------------------------------------------------------

@pytest.fixture
def connection_job(org):
    """A connection of `org` with one stored failed job (77)."""
    OrgTask.objects.create(org=org, task_slug="airbyte-sync", connection_id="conn-1")
    return baker.make(AirbyteJob, job_id=77, config_id="conn-1", status="failed", created_at=timezone.now(),
                      attempts=[{"id": 1, "status": "failed"}])


def test_a_job_of_the_connection_is_queued(client, token, connection_job):
    body = get(client, "/api/airbyte/v1/connections/conn-1/logsummary?job_id=77&attempt_number=1", token).json()
    session = LlmSession.objects.get(public_id=body["task_id"])
    assert (session.airbyte_job_id, session.attempt_number, session.flow_run_id) == (77, 1, "")
    assert OrmQ.objects.count() == 1


def test_another_orgs_job_or_connection_is_400_and_nothing_is_read(
    client, token, other_org_token, connection_job, org, airbyte_api
):
    # Org B's job (a connection of another org), a job of another connection of the same org, an unknown job.
    other = Org.objects.get(slug="ngo-two")  # the other org's token made it
    OrgTask.objects.create(org=other, task_slug="airbyte-sync", connection_id="conn-b")
    baker.make(AirbyteJob, job_id=88, config_id="conn-b", status="failed", created_at=timezone.now())
    OrgTask.objects.create(org=org, task_slug="airbyte-sync", connection_id="conn-2")
    baker.make(AirbyteJob, job_id=99, config_id="conn-2", status="failed", created_at=timezone.now())
    for url, caller in [
        ("/api/airbyte/v1/connections/conn-1/logsummary?job_id=88", token),
        ("/api/airbyte/v1/connections/conn-1/logsummary?job_id=99", token),
        ("/api/airbyte/v1/connections/conn-1/logsummary?job_id=12345", token),
        ("/api/airbyte/v1/connections/conn-b/logsummary?job_id=88", token),
        ("/api/airbyte/v1/connections/conn-1/logsummary?job_id=77&regenerate=1", other_org_token),
    ]:
        response = get(client, url, caller)
        assert response.status_code == 400 and response.json() == {"detail": "Invalid job id"}, url
    assert airbyte_api.request_count == 0
    assert LlmSession.objects.count() == 0 and OrmQ.objects.count() == 0


@pytest.mark.parametrize("query", [
    "job_id=100000000000000000000", "job_id=-1", "job_id=0", "job_id=abc", "job_id=",
    "job_id=77&attempt_number=-1", "job_id=77&attempt_number=100000000000000000000", "job_id=77&attempt_number=x",
    "job_id=77&regenerate=5", "job_id=1e3",
])
def test_integer_parameters_are_bounded_and_answer_400(client, token, connection_job, query):
    response = get(client, f"/api/airbyte/v1/connections/conn-1/logsummary?{query}", token)
    assert response.status_code == 400, (query, response.content)
    assert LlmSession.objects.count() == 0


def test_flow_run_regenerate_parameter_is_bounded(client, token, ready_session):
    assert logsummary(client, token, ready_session.flow_run_id, regenerate=2).status_code == 400
    assert logsummary(client, token, "not-a-run").status_code == 404


# ---- nothing spins forever (item 6) --------------------------------------------------------------------------

def test_a_pending_summary_reports_failed_after_the_expiry_and_keeps_its_retries(client, token, org, settings):
    settings.SUMMARY_PENDING_EXPIRY_SECONDS = 600
    retry_at = timezone.now() + datetime.timedelta(minutes=3)
    session = baker.make(LlmSession, org=org, flow_run_id="r", step_key="flow:r", status=SummaryStatus.PENDING,
                         requested_at=minutes_ago(9), attempts=2, next_attempt_at=retry_at)
    assert progress(client, token, session.public_id)[0]["status"] == "running"
    LlmSession.objects.filter(pk=session.pk).update(requested_at=minutes_ago(10.1))
    assert progress(client, token, session.public_id) == [{"message": NOT_MADE, "status": "failed", "result": None}]
    assert NOT_MADE == "the summary could not be made; try again"
    session.refresh_from_db()
    assert (session.status, session.attempts, session.next_attempt_at) == (SummaryStatus.PENDING, 2, retry_at)


def test_asking_again_after_the_expiry_requeues_and_polls_running(client, token, org, dalgo_runs):
    run, _ = dalgo_runs.pipeline(connections=0)
    session = baker.make(LlmSession, org=org, flow_run_id=run["id"], step_key="flow:x", trigger="failure",
                         status=SummaryStatus.PENDING, requested_at=minutes_ago(30))
    assert progress(client, token, session.public_id)[0]["status"] == "failed"
    assert logsummary(client, token, run["id"]).json()["task_id"] == str(session.public_id)
    assert progress(client, token, session.public_id)[0]["status"] == "running"
    assert OrmQ.objects.count() == 1


def test_a_failed_summary_says_try_again_without_the_reason(client, token, org):
    session = baker.make(LlmSession, org=org, flow_run_id="r", step_key="flow:r", status=SummaryStatus.FAILED,
                         last_error="Prefect API at http://10.0.0.5:4200/api failed: connection refused")
    assert progress(client, token, session.public_id) == [{"message": NOT_MADE, "status": "failed", "result": None}]


# ---- regenerate (item 8) -------------------------------------------------------------------------------------

def regenerate(client, token, session):
    """A regenerate request for a flow-run summary."""
    return logsummary(client, token, session.flow_run_id, regenerate=1)


def test_regenerate_queues_a_fresh_one_and_shows_running_until_it_is_made(client, token, ready_session):
    task_id = regenerate(client, token, ready_session).json()["task_id"]
    assert task_id == str(ready_session.public_id)
    assert [row.task["func"] for row in OrmQ.objects.all()] == ["tasks.summaries.produce_session_summary"]
    assert progress(client, token, task_id)[0]["status"] == "running"
    ready_session.refresh_from_db()
    assert ready_session.status == SummaryStatus.READY, "the good summary stays until a new one is made"
    assert regenerate(client, token, ready_session).status_code == 200
    assert OrmQ.objects.count() == 1, "a regenerate under way is not started twice"
    assert SummaryRegeneration.objects.count() == 1


def test_regenerate_of_a_summary_made_less_than_the_minimum_ago_answers_it(client, token, ready_session, settings):
    settings.SUMMARY_REGENERATE_MIN_SECONDS = 300
    LlmSession.objects.filter(pk=ready_session.pk).update(ready_at=timezone.now() - datetime.timedelta(seconds=299))
    assert regenerate(client, token, ready_session).json()["task_id"] == str(ready_session.public_id)
    assert OrmQ.objects.count() == 0 and SummaryRegeneration.objects.count() == 0
    assert progress(client, token, ready_session.public_id)[0]["status"] == "completed"


def test_regenerates_have_a_daily_cap_per_org(client, token, other_org_token, org, settings):
    settings.SUMMARY_REGENERATE_DAILY_LIMIT = 2
    rows = [baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x", trigger="failure",
                       status=SummaryStatus.READY, title=f"t{n}", summary="s", ready_at=minutes_ago(60))
            for n in range(3)]
    failed = baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:x", trigger="failure",
                        status=SummaryStatus.FAILED)
    for row in rows[:2]:
        assert regenerate(client, token, row).status_code == 200
    assert OrmQ.objects.count() == 2
    # Over the cap: a ready summary answers as it is; a row with nothing to show says why.
    assert regenerate(client, token, rows[2]).json()["task_id"] == str(rows[2].public_id)
    assert progress(client, token, rows[2].public_id)[0]["status"] == "completed"
    over = regenerate(client, token, failed)
    assert over.status_code == 429 and "try again tomorrow" in over.json()["detail"]
    assert OrmQ.objects.count() == 2 and SummaryRegeneration.objects.count() == 2
    # Yesterday's regenerates no longer count.
    SummaryRegeneration.objects.update(requested_at=timezone.now() - datetime.timedelta(hours=25))
    assert regenerate(client, token, failed).status_code == 200 and OrmQ.objects.count() == 3


def test_a_failed_regeneration_keeps_the_good_summary(client, token, dalgo_runs, llm_api, settings):
    run, _ = dalgo_runs.pipeline(connections=0)
    dalgo_runs.dbt_task(run)
    good = summarize_flow_run(run["id"])
    LlmSession.objects.filter(pk=good.pk).update(ready_at=minutes_ago(60))
    assert regenerate(client, token, good).status_code == 200
    llm_api.fail_next(500, times=5)
    produce_session(good.pk, regenerate=True)  # what the queued task does
    good_now = LlmSession.objects.get(pk=good.pk)
    assert good_now.status == SummaryStatus.READY and good_now.provider == "openai"
    assert (good_now.title, good_now.summary) == (good.title, good.summary)
    assert good_now.attempts == good.attempts and good_now.next_attempt_at is None
    assert progress(client, token, good.public_id)[0]["result"][0]["response"].startswith(good.summary)
