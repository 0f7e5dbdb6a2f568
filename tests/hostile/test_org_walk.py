"""The org walk, mixed: every authenticated endpoint (from the OpenAPI schema) called by org A's user with A's OWN
run or connection in the URL and org B's task id, job id, summary id or run id beside it, and with B's slug in
x-dalgo-org; through each way in (the access_token cookie, a bearer JWT, a `ddp_` token). Nothing of B's may come
back (its title, summary, ids, the secret in its log excerpt), and no row may be written anywhere.
"""

import uuid

import pytest
from django.apps import apps
from django.utils import timezone
from django_q.models import OrmQ
from model_bakery import baker

from ddpui.core.auth.api_tokens import issue_token
from ddpui.core.auth.jwt_tokens import issue_pair
from ddpui.models import AirbyteJob, AuthFailureWindow, LlmSession, Org, OrgDataFlow, OrgTask, OrgUser, OrgUserRole
from tests.hostile.test_access import OWN_ORG_OPERATIONS, call, generous_limit, operations, owned, urls_for  # noqa: F401

OTHER_SECRET = "hunter2-org-b-d41d8cd98f"
OTHER_JOB_ID = 9_917


@pytest.fixture
def other_org(dalgo_runs, prefect_api, airbyte_api, django_user_model) -> dict:
    """Org B with a failed run in the Prefect stand-in, a connection with a failed job in the Airbyte stand-in,
    and ready summaries of both, every text of which is marked so a leak is found by search."""
    org_b = baker.make(Org, name="NGO Bravo Hidden", slug="ngo-bravo-hidden")
    user = django_user_model.objects.create(username="lead@bravo.test", email="lead@bravo.test")
    orguser = OrgUser.objects.create(user=user, org=org_b, role=OrgUserRole.SUPER_ADMIN)
    connection_id = str(uuid.uuid4())
    dataflow = OrgDataFlow.objects.create(org=org_b, name="bravo", deployment_id=str(uuid.uuid4()))
    orgtask = OrgTask.objects.create(uuid=uuid.uuid4(), org=org_b, task_slug="airbyte-sync", connection_id=connection_id)
    orgtask.dataflows.add(dataflow)
    run = prefect_api.add_flow_run(deployment_id=dataflow.deployment_id, name="bravo-run", state_type="FAILED",
                                   state_name="Failed", parameters={"config": {"org_slug": org_b.slug, "tasks": []}})
    task = prefect_api.add_task_run(run["id"], name="dbtjob-dbt-run", state_type="FAILED", state_name="Failed")
    prefect_api.add_log(f"connecting with password {OTHER_SECRET}", flow_run_id=run["id"], task_run_id=task["id"])
    airbyte_api.add_job(connection_id, "failed", job_id=OTHER_JOB_ID,
                        attempts=[{"log_lines": [f"ERROR password {OTHER_SECRET}"]}])
    baker.make(AirbyteJob, job_id=OTHER_JOB_ID, config_id=connection_id, status="failed", created_at=timezone.now())
    texts = {"title": "Bravo title 7f3e", "summary": "Bravo summary 91ac", "root_cause": "Bravo cause 5b2d",
             "excerpt": f"password {OTHER_SECRET}", "response": [{"prompt": "p", "response": "Bravo answer 0c4e"}]}
    flow_session = baker.make(LlmSession, org=org_b, orguser=orguser, flow_run_id=run["id"],
                              step_key=f"task:{task['id']}", task_id=task["id"], node_ids=[task["id"]],
                              status="ready", failed_step={"kind": "dbt"}, **texts)
    job_session = baker.make(LlmSession, org=org_b, orguser=orguser, step_key=f"airbyte:{OTHER_JOB_ID}:0",
                             airbyte_job_id=OTHER_JOB_ID, attempt_number=0, status="ready",
                             failed_step={"kind": "airbyte"}, **texts)
    return {"org": org_b, "flow_run_id": run["id"], "task_run_id": task["id"], "connection_id": connection_id,
            "flow_session": flow_session, "job_session": job_session,
            "marks": [OTHER_SECRET, org_b.name, org_b.slug, run["id"], task["id"], connection_id, str(OTHER_JOB_ID),
                      str(flow_session.public_id), str(job_session.public_id), *[v for k, v in texts.items()
                                                                              if isinstance(v, str)], "Bravo answer"]}


def mixed_values(own: dict, other: dict) -> list[dict[tuple[str, str], str]]:
    """Parameter values: A's run and connection with B's task, job and summary ids; then B's run and connection."""
    common = {("query", "attempt_number"): "0", ("query", "regenerate"): "1", ("query", "status"): "ready",
              ("query", "since"): "2000-01-01T00:00:00Z", ("query", "limit"): "50",
              ("query", "month"): timezone.now().strftime("%Y-%m")}
    others_keys = {("path", "task_id"): str(other["flow_session"].public_id),
                   ("path", "summary_id"): str(other["flow_session"].public_id),
                   ("query", "task_id"): other["task_run_id"], ("query", "job_id"): str(OTHER_JOB_ID)}
    own_run = {("path", "flow_run_id"): own["flow_run_id"], ("path", "connection_id"): own["connection_id"]}
    other_run = {("path", "flow_run_id"): other["flow_run_id"], ("path", "connection_id"): other["connection_id"]}
    job_summary = {**others_keys, ("path", "task_id"): str(other["job_session"].public_id),
                   ("path", "summary_id"): str(other["job_session"].public_id)}
    return [{**common, **others_keys, **own_run}, {**common, **job_summary, **own_run},
            {**common, **others_keys, **other_run}]


def row_counts() -> dict[str, int]:
    """Rows of every table of ours (and the task queue), but the failed-auth counter a refusal may bump."""
    counts = {model.__name__: model.objects.count() for model in apps.get_app_config("ddpui").get_models()
              if model is not AuthFailureWindow}
    counts["OrmQ"] = OrmQ.objects.count()
    return counts


@pytest.mark.django_db
def test_no_endpoint_gives_another_orgs_data_whatever_mix_of_ids_and_credentials(
        client, manager, owned, other_org, generous_limit):  # noqa: F811 (fixtures of test_access)
    access, _ = issue_pair(manager.user)
    ways = {
        "cookie JWT": ({}, {"access_token": access}),
        "bearer JWT": ({"HTTP_AUTHORIZATION": f"Bearer {access}"}, {}),
        "ddp_ token": ({"HTTP_AUTHORIZATION": f"Bearer {issue_token(manager)}"}, {}),
    }
    org_headers = [{}, {"HTTP_X_DALGO_ORG": manager.org.slug}, {"HTTP_X_DALGO_ORG": other_org["org"].slug}]
    before = row_counts()
    tried, statuses = 0, {way: {} for way in ways}
    for values in mixed_values(owned, other_org):
        for method, path, op in operations():
            if not op.get("security"):
                continue
            for optional in (False, True):
                url = urls_for(path, op, values, optional=optional)
                for way, (headers, cookies) in ways.items():
                    for org_header in org_headers:
                        client.cookies.clear()
                        for name, value in cookies.items():
                            client.cookies[name] = value
                        response = call(client, method, url, path, {**headers, **org_header})
                        tried += 1
                        statuses[way][response.status_code] = statuses[way].get(response.status_code, 0) + 1
                        body = response.content.decode()
                        assert response.status_code < 500, (way, url, response.status_code, body[:300])
                        leaked = [mark for mark in other_org["marks"] if mark in body]
                        assert not leaked, f"{way} {method.upper()} {url} {org_header}: B's {leaked} in {body[:300]}"
                        if org_header.get("HTTP_X_DALGO_ORG") == other_org["org"].slug and way != "ddp_ token":
                            assert response.status_code == 401, (way, url, response.status_code)
                        if response.status_code == 200 and (method, path) not in OWN_ORG_OPERATIONS:
                            data = response.json()
                            # Lists answer A's own rows only; single answers may only be A's own summary.
                            assert isinstance(data, list) or str(owned["flow_session"].public_id) in body or \
                                str(owned["airbyte_session"].public_id) in body, (way, url, body[:300])
    client.cookies.clear()
    assert row_counts() == before, "a mixed request wrote a row"
    print(f"org walk (mixed ids): {tried} requests tried; statuses per way: {statuses}")
    # Each way in did get through (the walk is not a wall of 401s that would prove nothing).
    assert all(counts.get(200) for counts in statuses.values()), statuses
    assert tried >= 3 * 3 * 3 * 10
