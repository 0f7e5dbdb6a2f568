"""Hostile access: every authenticated endpoint (enumerated from the OpenAPI schema, so a new one cannot be
forgotten) is org-scoped and needs a token; tokens are stored hashed and revoked at once; failed bearer
tokens and wrong webhook keys are rate-limited per client in the database, across gunicorn workers."""

import hashlib
import json
import logging
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ
from model_bakery import baker

from ddpui.api import api
from ddpui.core.auth.api_tokens import issue_token, revoke_token
from ddpui.core.auth.throttle import API_SCOPE, WEBHOOK_SCOPE
from ddpui.models import (
    AirbyteJob,
    ApiToken,
    AuthFailureWindow,
    LlmSession,
    Notification,
    PrefectFlowRun,
    SummaryFeedback,
    SummaryStatus,
)
from harness.app import AppConfig, app_env, start_web
from harness.processes import ProcessStack

WEBHOOK_URL = "/webhooks/v1/notification/"
# The only operations anyone may call without a bearer token. A new unauthenticated route fails the walk.
# Login, refresh and logout check their own credentials (password, refresh cookie; logout only revokes).
PUBLIC_OPERATIONS = {
    ("post", "/webhooks/v1/notification/"),
    ("post", "/api/login/"),
    ("post", "/api/v2/login/"),
    ("post", "/api/v2/token/refresh"),
    ("post", "/api/logout/"),
}
OTHER_CLIENT = "203.0.113.9"
# Operations about the caller's own org (its preferences, its usage): no other org's record is named in their URL,
# so they answer anyone of an org with that org's own data (never another's, which the walk checks).
OWN_ORG_OPERATIONS = {
    ("get", "/api/orgpreferences/"),
    ("put", "/api/orgpreferences/llm_approval"),
    ("put", "/api/orgpreferences/enable-discord-notifications"),
    ("get", "/api/v1/usage"),
}
# A valid body for each operation that takes one, so the walk reaches the scoping, not the validation.
REQUEST_BODIES = {
    ("put", "/api/orgpreferences/llm_approval"): {"llm_optin": True},
    ("put", "/api/orgpreferences/enable-discord-notifications"): {"enable_discord_notifications": False},
    ("post", "/api/v1/summaries/{summary_id}/feedback"): {"helpful": True, "comment": "walk"},
}


def bearer(token: str | None) -> dict:
    """Django test-client headers for a bearer token (none when token is None)."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}


@pytest.fixture
def owned(dalgo_runs, org):
    """Records of `org` that every read endpoint can name: a failed run (in the Prefect stand-in and in our
    tables) with a ready failure summary of one of its task runs, and a stored job of its connection with a
    ready summary."""
    run, connection_ids = dalgo_runs.pipeline(connections=1)
    task_run_id = str(uuid.uuid4())
    PrefectFlowRun.objects.create(deployment_id=run["deployment_id"], flow_run_id=run["id"], name=run["name"],
                                  status="FAILED", state_name="Failed")
    flow_session = baker.make(
        LlmSession, org=org, flow_run_id=run["id"], step_key=f"task:{task_run_id}", task_id=task_run_id,
        status=SummaryStatus.READY, trigger="failure", title="dbt-run failed", summary="s", failed_step={"kind": "dbt"},
        response=[{"prompt": "p", "response": "r"}],
    )
    baker.make(AirbyteJob, job_id=77, config_id=connection_ids[0], status="failed", created_at=timezone.now())
    airbyte_session = baker.make(
        LlmSession, org=org, flow_run_id="", step_key="airbyte:77:1", airbyte_job_id=77, attempt_number=1,
        status=SummaryStatus.READY, trigger="on_demand", title="sync failed", failed_step={"kind": "airbyte"},
        response=[{"prompt": "p", "response": "r"}],
    )
    return {
        "flow_run_id": run["id"],
        "task_run_id": task_run_id,
        "connection_id": connection_ids[0],
        "flow_session": flow_session,
        "airbyte_session": airbyte_session,
    }


def parameter_values(owned: dict) -> dict[tuple[str, str], str]:
    """A value for every (location, name) of a parameter of our API, naming `owned`'s records."""
    return {
        ("path", "flow_run_id"): owned["flow_run_id"],
        ("path", "connection_id"): owned["connection_id"],
        ("path", "task_id"): str(owned["flow_session"].public_id),
        ("query", "task_id"): owned["task_run_id"],
        ("query", "job_id"): "77",
        ("query", "attempt_number"): "1",
        ("query", "regenerate"): "1",
        ("query", "status"): "ready",
        ("query", "since"): "2000-01-01T00:00:00Z",
        ("query", "limit"): "50",
        ("path", "summary_id"): str(owned["flow_session"].public_id),
        ("query", "month"): timezone.now().strftime("%Y-%m"),
    }


def operations() -> list[tuple[str, str, dict]]:
    """Every (method, path, operation) of the ninja API, from its OpenAPI schema."""
    schema = api.get_openapi_schema()
    return [(method, path, op) for path, item in schema["paths"].items() for method, op in item.items()]


def urls_for(path: str, op: dict, values: dict, *, optional: bool) -> str:
    """The URL of an operation with its required parameters (and the optional ones when asked) filled in."""
    query = []
    for parameter in op.get("parameters", []):
        key = (parameter["in"], parameter["name"])
        if not parameter.get("required") and not optional:
            continue
        assert key in values, f"{path}: no test value for {key}: add one to parameter_values()"
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", values[key])
        else:
            query.append(f"{parameter['name']}={values[key]}")
    assert "{" not in path, path
    return path + ("?" + "&".join(query) if query else "")


def authenticated_operations(owned: dict) -> list[tuple[str, str, str]]:
    """(method, URL, path template) of every authenticated operation, with required parameters only and with all
    of them."""
    values = parameter_values(owned)
    found = []
    for method, path, op in operations():
        if not op.get("security"):
            assert (method, path) in PUBLIC_OPERATIONS, f"{method.upper()} {path} has no authentication"
            continue
        if op.get("requestBody"):
            assert (method, path) in REQUEST_BODIES, f"{method.upper()} {path}: add a body to REQUEST_BODIES"
        for optional in (False, True):
            found.append((method, urls_for(path, op, values, optional=optional), path))
    return found


def authenticated_urls(owned: dict) -> list[tuple[str, str]]:
    """(method, URL) of every authenticated operation."""
    return [(method, url) for method, url, _ in authenticated_operations(owned)]


def call(client, method: str, url: str, path: str, headers: dict):
    """One call of an operation, with its body when it takes one."""
    body = REQUEST_BODIES.get((method, path))
    if body is None:
        return client.generic(method.upper(), url, **headers)
    return client.generic(method.upper(), url, json.dumps(body), content_type="application/json", **headers)


def owned_ids(owned: dict) -> list[str]:
    """Identifiers of `owned` that must never appear in another org's answer."""
    return [owned["flow_run_id"], owned["task_run_id"], owned["connection_id"],
            str(owned["flow_session"].public_id), str(owned["airbyte_session"].public_id)]


@pytest.fixture
def generous_limit(settings):
    """The walk makes many unauthenticated calls on purpose: keep the failed-auth limit out of its way."""
    settings.AUTH_FAILURE_LIMIT = 10_000


@pytest.mark.django_db
def test_every_authenticated_endpoint_is_org_scoped(client, token, other_org_token, owned, generous_limit):
    urls = authenticated_operations(owned)
    assert len(urls) >= 10, urls  # five operations today, each with and without optional parameters
    queued_before, sessions_before = OrmQ.objects.count(), LlmSession.objects.count()
    feedback_before = SummaryFeedback.objects.count()
    for method, url, path in urls:
        response = call(client, method, url, path, bearer(other_org_token))
        own_org = (method, path) in OWN_ORG_OPERATIONS
        # 404 for a run that is not theirs; Dalgo's 400s ("no such task id", "Invalid job id") for a key or job.
        assert response.status_code in ((200, 403) if own_org else (200, 400, 404)), (
            url, response.status_code, response.content[:300])
        leaked = [value for value in owned_ids(owned) if value in response.content.decode()]
        assert not leaked, f"{url} showed another org's {leaked}"
        if response.status_code == 200 and own_org:
            assert owned["flow_session"].org.slug not in response.content.decode(), url
        elif response.status_code == 200:
            # Only list endpoints may answer 200 to a stranger, and then with nothing in them.
            assert response.json() == [], (url, response.json())
    assert OrmQ.objects.count() == queued_before, "another org's request queued work"
    assert LlmSession.objects.count() == sessions_before, "another org's request created a summary row"
    assert SummaryFeedback.objects.count() == feedback_before, "another org's request left feedback"
    # The same URLs answer the owner (so the 404s above come from scoping, not from absent records).
    for method, url, path in urls:
        response = call(client, method, url, path, bearer(token))
        # A machine token only reads: the org's settings answer it 403 (a permission, not a scoping matter).
        allowed = (200, 403) if (method, path) in OWN_ORG_OPERATIONS and method != "get" else (200,)
        assert response.status_code in allowed, (url, response.status_code, response.content[:300])
        if isinstance(response.json(), list):
            assert response.json(), f"{url}: the owner's list is empty, so the stranger's empty list proves nothing"


@pytest.mark.django_db
def test_every_authenticated_endpoint_needs_a_live_token(client, token, owned, generous_limit):
    revoked = issue_token(owned["flow_session"].org.orgusers.first(), name="old")
    revoke_token(revoked)
    for method, url in authenticated_urls(owned):
        for credentials in ({}, bearer("ddp_not-a-token"), bearer(revoked), {"HTTP_AUTHORIZATION": token}):
            response = client.generic(method.upper(), url, **credentials)
            assert response.status_code == 401, (url, credentials, response.status_code)


@pytest.mark.django_db
def test_tokens_are_stored_only_as_hashes(client, token, other_org_token, owned):
    client.get(f"/api/v1/flow_runs/{owned['flow_run_id']}/summary", **bearer(token))
    stored = ApiToken.objects.get(token_hash=hashlib.sha256(token.encode()).hexdigest())
    assert stored.prefix == token[:10] and len(stored.prefix) < len(token) // 3
    # No column of any row of any table holds a clear token (nor its secret part).
    for model in apps.get_models():
        for row in model.objects.values():
            text = repr(row)
            for clear in (token, other_org_token):
                assert clear[10:] not in text, f"{model.__name__} stores a clear token"


@pytest.mark.django_db
def test_a_revoked_token_stops_working_at_once(client, token, owned):
    url = f"/api/v1/flow_runs/{owned['flow_run_id']}/summary"
    assert client.get(url, **bearer(token)).status_code == 200
    assert revoke_token(token) is True
    assert client.get(url, **bearer(token)).status_code == 401
    assert revoke_token(token) is False, "revoking twice is a no-op"


def retry_after(response) -> int:
    """The Retry-After header as whole seconds."""
    assert re.fullmatch(r"\d+", response["Retry-After"]), response["Retry-After"]
    return int(response["Retry-After"])


@pytest.mark.django_db
def test_failed_tokens_are_throttled_but_a_live_token_always_passes(client, token, owned, settings):
    settings.AUTH_FAILURE_LIMIT, settings.AUTH_FAILURE_WINDOW_SECONDS = 3, 60
    url = f"/api/v1/flow_runs/{owned['flow_run_id']}/summary"
    for _ in range(2):
        assert client.get(url, **bearer("ddp_guess")).status_code == 401
    # The failure that reaches the limit, and every later one, is answered 429 with Retry-After.
    for _ in range(3):
        blocked = client.get(url, **bearer("ddp_guess"))
        assert blocked.status_code == 429 and 0 < retry_after(blocked) <= 60
    # The same address (a NAT, a proxy) with a live token is never refused.
    assert client.get(url, **bearer(token)).status_code == 200
    # Other clients' failures start their own count.
    assert client.get(url, REMOTE_ADDR=OTHER_CLIENT, **bearer("ddp_guess")).status_code == 401
    # When the window has passed, the count starts over.
    AuthFailureWindow.objects.filter(scope=API_SCOPE).update(window_started_at=timezone.now() - timedelta(seconds=61))
    assert client.get(url, **bearer("ddp_guess")).status_code == 401
    assert AuthFailureWindow.objects.get(scope=API_SCOPE, client="127.0.0.1").failures == 1


@pytest.mark.django_db
def test_many_users_behind_one_address_are_not_locked_out_by_one_of_them(client, token, other_org_token, owned):
    """Issue 11: 20 bad tokens from one proxy address locked out every API user behind it for 60 s."""
    url = f"/api/v1/flow_runs/{owned['flow_run_id']}/summary"
    for _ in range(25):
        client.get(url, **bearer("ddp_stale-token-of-one-user"))
    assert client.get(url, **bearer(token)).status_code == 200
    assert client.get("/api/v1/summaries", **bearer(other_org_token)).status_code == 200


@pytest.mark.django_db
def test_crossing_the_limit_alerts_once_per_window(client, owned, settings, caplog):
    settings.AUTH_FAILURE_LIMIT = 3
    url = f"/api/v1/flow_runs/{owned['flow_run_id']}/summary"
    with caplog.at_level(logging.WARNING, logger="ddpui.core.auth.throttle"):
        for _ in range(6):
            client.get(url, **bearer("ddp_guess"))
    alerts = [r.getMessage() for r in caplog.records if r.name == "ddpui.core.auth.throttle"]
    assert alerts == ["failed authentication: 3 failures for api from 127.0.0.1 within 60 s; further failures get 429"]


@pytest.mark.django_db
def test_successful_requests_touch_no_failure_counter(client, token, owned, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    url = f"/api/v1/flow_runs/{owned['flow_run_id']}/summary"
    for _ in range(2):
        assert client.get(url, **bearer("ddp_guess")).status_code == 401
    # Successes neither reset nor add to the count, and do not even read it.
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            assert client.get(url, **bearer(token)).status_code == 200
    throttle_table = AuthFailureWindow._meta.db_table
    assert not [q["sql"] for q in queries.captured_queries if throttle_table in q["sql"]]
    assert AuthFailureWindow.objects.get(scope=API_SCOPE).failures == 2


@pytest.mark.django_db
def test_wrong_webhook_keys_are_throttled_and_the_right_key_always_passes(client, webhook_key, settings):
    """Issue 11: 21 wrong keys from one address made the next 60 s of Prefect's notifications answer 429."""
    settings.AUTH_FAILURE_LIMIT = 3
    body = {"body": f"Flow run a with id {uuid.uuid4()} entered state Failed"}
    for key in ("wrong", "", webhook_key[:-1]):
        assert client.post(WEBHOOK_URL, body, content_type="application/json",
                           HTTP_X_NOTIFICATION_KEY=key).status_code in (401, 429)
    blocked = client.post(WEBHOOK_URL, body, content_type="application/json", HTTP_X_NOTIFICATION_KEY="guess")
    assert blocked.status_code == 429 and 0 < retry_after(blocked) <= settings.AUTH_FAILURE_WINDOW_SECONDS
    assert Notification.objects.count() == 0 and OrmQ.objects.count() == 0
    # Prefect on the same address still gets through; the API's own counter is separate.
    assert client.post(WEBHOOK_URL, body, content_type="application/json",
                       HTTP_X_NOTIFICATION_KEY=webhook_key).status_code == 200
    assert Notification.objects.count() == 1
    assert not AuthFailureWindow.objects.filter(scope=API_SCOPE).exists()
    assert AuthFailureWindow.objects.get(scope=WEBHOOK_SCOPE).failures == 4


@pytest.mark.django_db
def test_forwarded_for_is_trusted_only_when_configured(client, owned, settings):
    settings.AUTH_FAILURE_LIMIT = 2
    url = f"/api/v1/flow_runs/{owned['flow_run_id']}/summary"
    assert client.get(url, HTTP_X_FORWARDED_FOR="198.51.100.1", **bearer("ddp_guess")).status_code == 401
    # Not trusted by default: the forged header does not give a fresh client.
    assert client.get(url, HTTP_X_FORWARDED_FOR="198.51.100.2", **bearer("ddp_guess")).status_code == 429
    settings.AUTH_TRUST_X_FORWARDED_FOR = True
    # Behind a proxy: the last entry (appended by the proxy) is the client.
    assert client.get(url, HTTP_X_FORWARDED_FOR="10.0.0.1, 198.51.100.2", **bearer("ddp_guess")).status_code == 401


# ---- across gunicorn workers, over a real socket -------------------------------------------------------------

@pytest.fixture
def gunicorn_app(transactional_db, settings, tmp_path):
    """Our app under gunicorn (the harness's two sync workers) on this test's database; the access log names
    the worker pid of every request. The failed-auth limit is 40 per minute."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    database = connection.settings_dict
    config = AppConfig(
        database_url=f"postgresql://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        prefect_api_url="http://127.0.0.1:9/api", webhook_key="k" * 24, airbyte_port=9,
    )
    env = app_env(config, str(tmp_path / "prefect-home"))
    env.update({"AUTH_FAILURE_LIMIT": "40", "GUNICORN_CMD_ARGS": "--access-logformat 'pid=%(p)s %(s)s %(U)s'"})
    stack = ProcessStack(tmp_path / "run")
    try:
        process, base_url = start_web(stack, env)
        yield process, base_url
    finally:
        stack.stop_all()


def worker_pids(log_text: str, status: str) -> set[str]:
    """The gunicorn worker pids that answered with `status`, from the access log."""
    return set(re.findall(rf"pid=<?(\d+)>? {status} ", log_text))


def test_limits_and_revocation_hold_across_gunicorn_workers(gunicorn_app, token, owned):
    process, base_url = gunicorn_app
    url = f"{base_url}/api/v1/flow_runs/{owned['flow_run_id']}/summary"
    lock = threading.Lock()
    codes: list[int] = []

    def get(credentials: str) -> None:
        """One request on its own connection, so the kernel hands it to either worker."""
        status = httpx.get(url, headers={"Authorization": f"Bearer {credentials}"}, timeout=10).status_code
        with lock:
            codes.append(status)

    # Which worker accepts a connection is the kernel's choice: on a loaded machine one worker can take a whole
    # batch, so batches continue (bounded) until both have served the token.
    for _ in range(20):
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(get, [token] * 16))
        if len(worker_pids(process.tail(5000), "200")) == 2:
            break
    assert set(codes) == {200}
    assert len(worker_pids(process.tail(5000), "200")) == 2, "both workers served the token"
    # Revoked in the database: both workers refuse it from the next request on.
    revoke_token(token)
    codes.clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(get, [token] * 16))
    assert codes == [401] * 16
    # Failures counted by either worker add up: after 40 in total (16 above + 24 more), every worker says 429.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(get, ["ddp_guess"] * 24))
    assert len(worker_pids(process.tail(500), "401")) == 2, "both workers counted failures"
    assert AuthFailureWindow.objects.get(scope=API_SCOPE).failures == 40
    codes.clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(get, [token] * 8))
    assert codes == [429] * 8
