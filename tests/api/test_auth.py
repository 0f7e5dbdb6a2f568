"""Dalgo's authentication of the API: JWTs minted by Dalgo's backend (only the shared secret in common), the
cookie read before the bearer header, 498 for an expired cookie, org selection by `x-dalgo-org`, role
permissions (403), and the project's own `ddp_` tokens for machine clients."""

import time
import uuid

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from model_bakery import baker

from ddpui.api.auth import has_permission
from ddpui.core.auth.permissions import ROLE_PERMISSIONS
from ddpui.models import AuthFailureWindow, LlmSession, Org, OrgUser, OrgUserRole, SummaryStatus

pytestmark = pytest.mark.django_db
LIST_URL = "/api/v1/summaries"


def shared_secret() -> str:
    """JWT_SECRET_KEY, the secret Dalgo's backend and ours share (simplejwt's signing key). Not overridden per
    test: simplejwt builds its signing backend once per process (tests/test_settings.py covers the variable)."""
    return settings.SIMPLE_JWT["SIGNING_KEY"]


def dalgo_jwt(user_id: int, *, token_type: str = "access", lifetime: int = 1800, secret: str | None = None,
              issued: float | None = None) -> str:
    """A token exactly as Dalgo's backend mints it (simplejwt's claims plus its orguser_role_key), made with
    PyJWT and the secret only: nothing of our code is involved."""
    now = int(issued if issued is not None else time.time())
    claims = {"token_type": token_type, "exp": now + lifetime, "iat": now, "jti": uuid.uuid4().hex,
              "user_id": user_id, "orguser_role_key": f"orguser_role:{user_id}"}
    return jwt.encode(claims, secret or shared_secret(), algorithm="HS256")


def bearer(token: str) -> dict:
    """Django test-client header for a bearer token."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def summary_of(org: Org, title: str) -> LlmSession:
    """A ready summary of the org, recognisable by its title."""
    return baker.make(LlmSession, org=org, flow_run_id=str(uuid.uuid4()), step_key=f"task:{uuid.uuid4()}",
                      status=SummaryStatus.READY, trigger="failure", title=title, failed_step={"kind": "dbt"},
                      response=[{"prompt": "p", "response": "r"}])


@pytest.fixture
def two_orgs(manager, org):
    """The manager also belongs to a second org (as analyst); each org has one summary."""
    second = baker.make(Org, name="NGO Three", slug="ngo-three")
    OrgUser.objects.create(user=manager.user, org=second, role=OrgUserRole.ANALYST)
    summary_of(org, "first org's summary")
    summary_of(second, "second org's summary")
    return org, second


def titles(response) -> list[str]:
    """The titles of a summary list answer."""
    assert response.status_code == 200, (response.status_code, response.content[:300])
    return [item["title"] for item in response.json()]


def test_a_token_minted_by_dalgo_is_accepted_as_bearer_and_as_cookie(client, manager, two_orgs):
    token = dalgo_jwt(manager.user_id)
    assert titles(client.get(LIST_URL, **bearer(token))) == ["first org's summary"]
    client.cookies["access_token"] = token
    assert titles(client.get(LIST_URL)) == ["first org's summary"]


def test_the_cookie_is_read_before_the_bearer_header(client, manager, two_orgs):
    good, bad = dalgo_jwt(manager.user_id), dalgo_jwt(manager.user_id, secret="another-secret")
    client.cookies["access_token"] = good
    assert client.get(LIST_URL, **bearer(bad)).status_code == 200
    # A bad cookie decides too, even with a good bearer token beside it (as Dalgo's backend does).
    client.cookies["access_token"] = bad
    assert client.get(LIST_URL, **bearer(good)).status_code == 401


def test_an_expired_cookie_answers_498_and_anything_else_invalid_401(client, manager, two_orgs):
    expired = dalgo_jwt(manager.user_id, issued=time.time() - 3600, lifetime=60)
    client.cookies["access_token"] = expired
    response = client.get(LIST_URL)
    assert response.status_code == 498 and response.json() == {"detail": "Token expired"}
    for invalid in (dalgo_jwt(manager.user_id, secret="not-the-secret"), "not.a.jwt", "x" * 5000,
                    dalgo_jwt(manager.user_id, token_type="refresh"), dalgo_jwt(999_999)):
        client.cookies["access_token"] = invalid
        assert client.get(LIST_URL).status_code == 401, invalid[:40]
    # An expired bearer token is a plain 401 (only the cookie flow refreshes on 498).
    del client.cookies["access_token"]
    assert client.get(LIST_URL, **bearer(expired)).status_code == 401
    # A well-signed but expired token is not counted as a failed attempt; the invalid ones are.
    assert AuthFailureWindow.objects.get().failures == 6


def test_an_inactive_user_is_refused(client, manager, two_orgs):
    get_user_model().objects.filter(id=manager.user_id).update(is_active=False)
    assert client.get(LIST_URL, **bearer(dalgo_jwt(manager.user_id))).status_code == 401


def test_x_dalgo_org_selects_among_the_users_memberships(client, manager, two_orgs):
    token = dalgo_jwt(manager.user_id)
    # No header: the first membership.
    assert titles(client.get(LIST_URL, **bearer(token))) == ["first org's summary"]
    assert titles(client.get(LIST_URL, HTTP_X_DALGO_ORG="ngo-three", **bearer(token))) == ["second org's summary"]
    assert titles(client.get(LIST_URL, HTTP_X_DALGO_ORG="ngo-one", **bearer(token))) == ["first org's summary"]


def test_an_org_the_user_is_not_a_member_of_is_refused(client, manager, two_orgs, other_org_token):
    # ngo-two exists (other_org_token's org) but the manager is not a member; ngo-nowhere does not exist.
    for slug in ("ngo-two", "ngo-nowhere"):
        response = client.get(LIST_URL, HTTP_X_DALGO_ORG=slug, **bearer(dalgo_jwt(manager.user_id)))
        assert response.status_code == 401, slug


def test_a_ddp_token_keeps_working_for_its_own_org_only(client, token, two_orgs):
    assert titles(client.get(LIST_URL, **bearer(token))) == ["first org's summary"]
    assert titles(client.get(LIST_URL, HTTP_X_DALGO_ORG="ngo-one", **bearer(token))) == ["first org's summary"]
    # The token is bound to its membership: naming the user's other org does not switch to it.
    assert client.get(LIST_URL, HTTP_X_DALGO_ORG="ngo-three", **bearer(token)).status_code == 401


def test_a_role_without_the_permission_gets_403(client, manager, two_orgs, monkeypatch):
    token = dalgo_jwt(manager.user_id)
    monkeypatch.setitem(ROLE_PERMISSIONS, "analyst", frozenset({"can_view_task_progress"}))
    # The manager is an analyst in ngo-three and a super-admin in ngo-one.
    response = client.get(LIST_URL, HTTP_X_DALGO_ORG="ngo-three", **bearer(token))
    assert response.status_code == 403 and "can_view_pipeline" in response.json()["detail"]
    assert client.get(LIST_URL, HTTP_X_DALGO_ORG="ngo-one", **bearer(token)).status_code == 200


def test_every_dalgo_endpoint_declares_its_permission(client, manager, two_orgs, monkeypatch):
    """With no permission at all, each route refuses before reading anything (403, not 404 or 200)."""
    monkeypatch.setitem(ROLE_PERMISSIONS, "super-admin", frozenset())
    token = dalgo_jwt(manager.user_id)
    task_id = str(LlmSession.objects.filter(org__slug="ngo-one").get().public_id)
    for url in (f"/api/prefect/v1/flow_runs/{uuid.uuid4()}/logsummary", f"/api/tasks/stp/{task_id}",
                "/api/airbyte/v1/connections/c1/logsummary?job_id=1", LIST_URL,
                f"/api/v1/flow_runs/{uuid.uuid4()}/summary"):
        assert client.get(url, **bearer(token)).status_code == 403, url


def test_a_misspelt_permission_fails_at_import_not_with_a_403():
    with pytest.raises(ValueError, match="can_veiw_pipeline"):
        has_permission(["can_veiw_pipeline"])


def test_a_jwt_costs_no_more_queries_than_a_ddp_token(client, manager, token, two_orgs):
    """The logout check rides in the membership query: cookie, bearer JWT and `ddp_` cost the same round trips."""
    jwt_token = dalgo_jwt(manager.user_id)

    def queries(**headers) -> int:
        """Database queries of one summary-list request."""
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST_URL, **headers).status_code == 200
        return len(captured.captured_queries)

    by_ddp = queries(**bearer(token))
    assert queries(**bearer(jwt_token)) == by_ddp
    client.cookies["access_token"] = jwt_token
    assert queries(HTTP_X_DALGO_ORG="ngo-one") == by_ddp
