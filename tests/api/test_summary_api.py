"""The read API: stored summaries served at once, org-scoped, never a model call (Dalgo's endpoints are in
test_dalgo_api.py)."""

import uuid

import pytest
from django.utils import timezone
from model_bakery import baker

from ddpui.core.auth.api_tokens import revoke_token
from ddpui.models import AirbyteJob, LlmSession, OrgDataFlow, OrgTask, PrefectFlowRun, SummaryFeedback, SummaryStatus

pytestmark = pytest.mark.django_db


def get(client, url, token=None):
    """GET with an optional bearer token."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(url, **headers)


@pytest.fixture
def ready_session(org) -> LlmSession:
    """A ready failure summary of a run of `org`."""
    return baker.make(
        LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="task:x", status=SummaryStatus.READY,
        title="dbt-run: a column is missing", summary="The model failed.", root_cause="column id missing",
        category="schema", fix_steps=["Fix the column"], evidence=[{"line": 6, "text": "column \"id\" does not exist"}],
        failed_step={"kind": "dbt", "label": "dbtjob-dbt-run"}, provider="offline", trigger="failure",
        response=[{"prompt": "p", "response": "The model failed."}],
    )


def test_stored_summary_is_served_without_calling_anyone(client, token, ready_session, prefect_api, airbyte_api):
    response = get(client, f"/api/v1/flow_runs/{ready_session.flow_run_id}/summary", token)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["title"] == ready_session.title
    assert body["failed_step"]["kind"] == "dbt" and body["evidence"][0]["line"] == 6
    assert prefect_api.request_count == 0 and airbyte_api.request_count == 0


def test_every_read_endpoint_refuses_another_org(client, other_org_token, ready_session, org):
    OrgTask.objects.create(org=org, task_slug="airbyte-sync", connection_id="conn-1")
    baker.make(AirbyteJob, job_id=5, config_id="conn-1", created_at=timezone.now())
    # Dalgo's own answers for a key or job that is not the caller's: 400 "no such task id" / "Invalid job id".
    urls = {
        f"/api/v1/flow_runs/{ready_session.flow_run_id}/summary": 404,
        f"/api/tasks/stp/{ready_session.public_id}": 400,
        "/api/airbyte/v1/connections/conn-1/logsummary?job_id=5": 400,
    }
    for url, status in urls.items():
        assert get(client, url, other_org_token).status_code == status, url
    assert get(client, "/api/v1/summaries", other_org_token).json() == []


def test_missing_wrong_or_revoked_token_is_401(client, token, ready_session):
    url = f"/api/v1/flow_runs/{ready_session.flow_run_id}/summary"
    assert get(client, url).status_code == 401
    assert get(client, url, "ddp_not-a-token").status_code == 401
    assert get(client, url, token).status_code == 200
    revoke_token(token)
    assert get(client, url, token).status_code == 401


def test_pending_while_a_failed_run_has_no_summary_yet(client, token, org):
    dataflow = baker.make(OrgDataFlow, org=org, deployment_id=str(uuid.uuid4()))
    run_id = str(uuid.uuid4())
    baker.make(PrefectFlowRun, flow_run_id=run_id, deployment_id=dataflow.deployment_id, state_name="Failed")
    body = get(client, f"/api/v1/flow_runs/{run_id}/summary", token).json()
    assert body == {"flow_run_id": run_id, "status": "pending"}
    assert get(client, f"/api/v1/flow_runs/{uuid.uuid4()}/summary", token).status_code == 404


def test_summary_list_filters_and_orders_newest_first(client, token, org, ready_session):
    failed = baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="flow:y",
                        status=SummaryStatus.FAILED, last_error="Prefect down")
    body = get(client, "/api/v1/summaries", token).json()
    assert [item["id"] for item in body] == [str(failed.public_id), str(ready_session.public_id)]
    only_failed = get(client, "/api/v1/summaries?status=failed&limit=5", token).json()
    assert [item["error"] for item in only_failed] == ["Prefect down"]
    assert get(client, "/api/v1/summaries?status=bogus", token).status_code in (400, 422)


def test_pending_while_a_dbt_test_failed_run_has_no_summary_yet(client, token, org):
    dataflow = baker.make(OrgDataFlow, org=org, deployment_id=str(uuid.uuid4()))
    run_id = str(uuid.uuid4())
    baker.make(PrefectFlowRun, flow_run_id=run_id, deployment_id=dataflow.deployment_id, state_name="DBT_TEST_FAILED")
    assert get(client, f"/api/v1/flow_runs/{run_id}/summary", token).json() == {"flow_run_id": run_id, "status": "pending"}


def post(client, url, token, body):
    """POST JSON with a bearer token."""
    return client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_feedback_is_one_per_user_and_summary_and_editable(client, token, ready_session):
    url = f"/api/v1/summaries/{ready_session.public_id}/feedback"
    first = post(client, url, token, {"helpful": False, "comment": "the password=hunter2hunter2 was in it"})
    assert first.status_code == 200 and first.json()["helpful"] is False
    assert "hunter2hunter2" not in first.json()["comment"], "comments are redacted"
    second = post(client, url, token, {"helpful": True, "comment": "better now"})
    assert second.json() | {"updated_at": None} == {
        "summary_id": str(ready_session.public_id), "helpful": True, "comment": "better now", "updated_at": None,
        "helpful_count": 1, "not_helpful_count": 0}
    assert SummaryFeedback.objects.filter(session=ready_session).count() == 1


def test_feedback_on_another_orgs_summary_or_a_bad_body_changes_nothing(client, other_org_token, token, ready_session):
    url = f"/api/v1/summaries/{ready_session.public_id}/feedback"
    assert post(client, url, other_org_token, {"helpful": True}).status_code == 404
    assert post(client, "/api/v1/summaries/not-a-uuid/feedback", token, {"helpful": True}).status_code == 404
    assert 400 <= post(client, url, token, {"helpful": "perhaps"}).status_code < 500
    assert 400 <= post(client, url, token, {"helpful": True, "comment": "x" * 5000}).status_code < 500
    assert not SummaryFeedback.objects.exists()


def test_usage_is_tokens_in_and_out_by_model_for_the_month(client, token, org, settings):
    settings.LLM_MONTHLY_TOKEN_BUDGET_PER_ORG = 1000
    for model, tokens_in, tokens_out in (("gpt-4o-mini", 300, 50), ("gpt-4o-mini", 200, 40), ("gpt-4o", 100, 10)):
        baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key="s", status=SummaryStatus.READY,
                   provider="openai", model=model, tokens_in=tokens_in, tokens_out=tokens_out)
    baker.make(LlmSession, org=org, flow_run_id="offline", step_key="s", provider="offline", model="rules",
               tokens_in=999, tokens_out=0)
    month = timezone.now().strftime("%Y-%m")
    body = get(client, f"/api/v1/usage?month={month}", token).json()
    assert body["models"] == [
        {"model": "gpt-4o", "summaries": 1, "tokens_in": 100, "tokens_out": 10},
        {"model": "gpt-4o-mini", "summaries": 2, "tokens_in": 500, "tokens_out": 90},
    ]
    assert (body["tokens_in"], body["tokens_out"], body["budget"], body["over_budget"]) == (600, 100, 1000, False)
    assert get(client, "/api/v1/usage?month=2020-01", token).json()["models"] == []
    assert get(client, "/api/v1/usage?month=2024-13", token).status_code == 400
