"""Login (v1 tokens in the body, v2 httpOnly cookies), cookie refresh and logout, as Dalgo's frontends use
them; wrong passwords are counted by the failed-auth throttle; bad bodies are 4xx JSON."""

import pytest
from django.contrib.auth import get_user_model

from ddpui.core.auth.throttle import API_SCOPE
from ddpui.models import AuthFailureWindow, RevokedToken

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
LIST_URL = "/api/v1/summaries"


@pytest.fixture
def login_user(manager):
    """The manager of `org`, with a password."""
    manager.user.set_password(PASSWORD)
    manager.user.save()
    return manager.user


def post(client, url, body=None, **headers):
    """POST a JSON body."""
    return client.post(url, body if body is not None else {}, content_type="application/json", **headers)


def login_v1(client) -> dict:
    """Log in as webapp (v1) does; returns the answer."""
    response = post(client, "/api/login/", {"username": "manager@ngo.test", "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()


def login_v2(client):
    """Log in as webapp_v2 does: the client keeps the cookies."""
    response = post(client, "/api/v2/login/", {"username": "manager@ngo.test", "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response


def test_v1_login_answers_the_profile_and_tokens_that_work_as_bearer(client, login_user, org):
    body = login_v1(client)
    assert body["email"] == "manager@ngo.test" and body["active"] is True and body["email_verified"] is True
    assert {"can_create_orgs", "is_consultant", "is_platform_admin"} <= body.keys()
    assert body["orgs"] == [{"slug": "ngo-one", "name": "NGO One", "role": "super-admin",
                             "permissions": sorted(body["orgs"][0]["permissions"])}]
    assert "can_view_pipeline" in body["orgs"][0]["permissions"]
    assert client.get(LIST_URL, HTTP_AUTHORIZATION=f"Bearer {body['token']}").status_code == 200
    # The refresh token is not an access token.
    assert client.get(LIST_URL, HTTP_AUTHORIZATION=f"Bearer {body['refresh_token']}").status_code == 401


def test_the_username_is_the_email_in_any_case(client, login_user):
    response = post(client, "/api/login/", {"username": " Manager@NGO.test ", "password": PASSWORD})
    assert response.status_code == 200


def test_v2_login_sets_httponly_cookies_with_the_configured_flags(client, login_user, settings):
    settings.COOKIE_SECURE, settings.COOKIE_SAMESITE = True, "None"
    response = login_v2(client)
    assert "token" not in response.json() and response.json()["email"] == "manager@ngo.test"
    for name in ("access_token", "refresh_token"):
        cookie = response.cookies[name]
        assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "None" and cookie["path"] == "/"
    assert int(response.cookies["access_token"]["max-age"]) == settings.JWT_ACCESS_TOKEN_EXPIRY_MINUTES * 60
    # The frontend then sends only the cookie (credentials: 'include') and x-dalgo-org.
    assert client.get(LIST_URL, HTTP_X_DALGO_ORG="ngo-one").status_code == 200


def test_wrong_credentials_are_401_and_counted_per_address_and_username(client, login_user, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    for url in ("/api/login/", "/api/v2/login/"):
        response = post(client, url, {"username": "manager@ngo.test", "password": "wrong"})
        assert response.status_code == 401 and response.json() == {"detail": "Invalid credentials"}
        assert "access_token" not in response.cookies
    unknown = post(client, "/api/login/", {"username": "nobody@ngo.test", "password": PASSWORD})
    assert unknown.status_code == 401
    assert sorted(AuthFailureWindow.objects.filter(scope=API_SCOPE).values_list("failures", flat=True)) == [1, 2]
    # The third wrong password for the same account from the same address reaches the limit: 429, and even the
    # right password is refused for that account until the window ends.
    assert post(client, "/api/login/", {"username": "manager@ngo.test", "password": "wrong"}).status_code == 429
    blocked = post(client, "/api/login/", {"username": "manager@ngo.test", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0


def test_an_inactive_user_cannot_log_in(client, login_user):
    get_user_model().objects.filter(id=login_user.id).update(is_active=False)
    assert post(client, "/api/login/", {"username": "manager@ngo.test", "password": PASSWORD}).status_code == 401


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"username": "manager@ngo.test"}', b'{"username": 5, "password": {}}',
    b'{"username": "", "password": ""}', ('{"username": "a", "password": "%s"}' % ("x" * 5000)).encode(),
    b"\xff\xfe", b"",
])
def test_malformed_login_bodies_are_4xx_json(client, login_user, body):
    for url in ("/api/login/", "/api/v2/login/"):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code in (400, 422), (url, body[:30], response.status_code)
        assert response.json()


def test_v2_refresh_renews_the_access_cookie(client, login_user):
    login_v2(client)
    old_access = client.cookies["access_token"].value
    response = post(client, "/api/v2/token/refresh")
    assert response.status_code == 200 and response.json() == {"success": True}
    new_access = response.cookies["access_token"].value
    assert new_access and new_access != old_access and response.cookies["access_token"]["httponly"]
    assert client.get(LIST_URL).status_code == 200


def test_v2_refresh_without_a_live_refresh_cookie_is_401(client, login_user):
    assert post(client, "/api/v2/token/refresh").status_code == 401
    client.cookies["refresh_token"] = "not-a-token"
    assert post(client, "/api/v2/token/refresh").status_code == 401
    # An access token is not a refresh token.
    client.cookies["refresh_token"] = login_v1(client)["token"]
    assert post(client, "/api/v2/token/refresh").status_code == 401


def test_v2_logout_ends_both_tokens_and_clears_the_cookies(client, login_user):
    login_v2(client)
    access, refresh = client.cookies["access_token"].value, client.cookies["refresh_token"].value
    response = post(client, "/api/logout/")
    assert response.status_code == 200
    assert response.cookies["access_token"].value == "" and response.cookies["refresh_token"].value == ""
    # Replayed by someone who kept them: both refused.
    assert client.get(LIST_URL, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 401
    client.cookies["access_token"] = access
    assert client.get(LIST_URL).status_code == 401
    client.cookies["refresh_token"] = refresh
    assert post(client, "/api/v2/token/refresh").status_code == 401
    # Only ids are kept, never the tokens.
    assert all(len(jti) <= 64 for jti in RevokedToken.objects.values_list("jti", flat=True))


def test_v1_logout_with_only_the_bearer_token_ends_the_session(client, login_user):
    body = login_v1(client)
    assert post(client, "/api/logout/", HTTP_AUTHORIZATION=f"Bearer {body['token']}").status_code == 200
    assert client.get(LIST_URL, HTTP_AUTHORIZATION=f"Bearer {body['token']}").status_code == 401
    # The refresh token of that login is ended with it (the access token names its session).
    client.cookies["refresh_token"] = body["refresh_token"]
    assert post(client, "/api/v2/token/refresh").status_code == 401


def test_logout_ends_only_its_own_session(client, login_user):
    mine, other = login_v1(client), login_v1(client)
    post(client, "/api/logout/", {"refresh_token": mine["refresh_token"]},
         HTTP_AUTHORIZATION=f"Bearer {mine['token']}")
    assert client.get(LIST_URL, HTTP_AUTHORIZATION=f"Bearer {other['token']}").status_code == 200


def test_logout_is_idempotent_and_refuses_a_malformed_body(client, login_user):
    assert post(client, "/api/logout/").status_code == 200
    assert client.post("/api/logout/", b"{not json", content_type="application/json").status_code == 400
    assert client.post("/api/logout/", b"[1]", content_type="application/json").status_code == 400
    # A forged token is not recorded (nobody can fill the revocation table with made-up ids).
    post(client, "/api/logout/", {"refresh_token": "a.b.c"}, HTTP_AUTHORIZATION="Bearer x.y.z")
    assert RevokedToken.objects.count() == 0
