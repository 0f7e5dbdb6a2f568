"""Dalgo's org preferences endpoints: read by any member, changed only with the role's permission, and no
Discord webhook outside the allowed prefixes."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from ddpui.core.auth.jwt_tokens import issue_pair
from ddpui.models import OrgPreferences, OrgUser, OrgUserRole

pytestmark = pytest.mark.django_db
WEBHOOK = "https://discord.com/api/webhooks/123456/AbCdEfSecretToken"


@pytest.fixture
def analyst_token(org) -> str:
    """A Dalgo access token of an analyst of the org (no permission to change preferences)."""
    user = get_user_model().objects.create(username="analyst@ngo.test", email="analyst@ngo.test")
    OrgUser.objects.create(user=user, org=org, role=OrgUserRole.ANALYST)
    return issue_pair(user)[0]


@pytest.fixture
def admin_token(manager) -> str:
    """A Dalgo access token of the org's super-admin."""
    return issue_pair(manager.user)[0]


def call(method: str, path: str, token: str, body: dict | None = None):
    """One API call with a bearer token."""
    client = Client()
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        return getattr(client, method)(path, body, content_type="application/json", **kwargs)
    return getattr(client, method)(path, **kwargs)


def test_any_member_reads_the_preferences_in_dalgos_shape(org, analyst_token):
    answer = call("get", "/api/orgpreferences/", analyst_token)
    assert answer.status_code == 200
    assert answer.json()["success"] is True
    assert answer.json()["res"]["llm_optin"] is True and answer.json()["res"]["enable_discord_notifications"] is False


def test_llm_approval_needs_can_edit_llm_settings(org, analyst_token, admin_token, token):
    refused = call("put", "/api/orgpreferences/llm_approval", analyst_token, {"llm_optin": False})
    assert refused.status_code == 403 and "can_edit_llm_settings" in refused.json()["detail"]
    assert OrgPreferences.objects.get(org=org).llm_optin is True, "nothing changed"
    assert call("put", "/api/orgpreferences/llm_approval", token, {"llm_optin": False}).status_code == 403, (
        "a machine (ddp_) token only reads")
    answer = call("put", "/api/orgpreferences/llm_approval", admin_token, {"llm_optin": False})
    assert answer.status_code == 200 and answer.json()["res"]["llm_optin"] is False
    answer = call("put", "/api/orgpreferences/llm_approval", admin_token, {"llm_optin": True})
    assert answer.json()["res"]["llm_optin_approved_by"] == "manager@ngo.test"


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "https://discord.com.evil.test/api/webhooks/1/x",
                                 "http://discord.com/api/webhooks/1/x", "", "https://discord.com/api/webhooks/1/a b"])
def test_a_webhook_outside_the_allowed_prefixes_is_a_400_and_changes_nothing(org, admin_token, url):
    answer = call("put", "/api/orgpreferences/enable-discord-notifications", admin_token,
                  {"enable_discord_notifications": True, "discord_webhook": url})
    assert answer.status_code == 400 and "discord_webhook" in answer.json()["detail"]
    prefs = OrgPreferences.objects.get(org=org)
    assert (prefs.enable_discord_notifications, prefs.discord_webhook) == (False, None)


def test_discord_needs_the_notification_permission_and_the_token_is_never_shown(org, admin_token, analyst_token):
    body = {"enable_discord_notifications": True, "discord_webhook": WEBHOOK}
    assert call("put", "/api/orgpreferences/enable-discord-notifications", analyst_token, body).status_code == 403
    answer = call("put", "/api/orgpreferences/enable-discord-notifications", admin_token, body)
    assert answer.status_code == 200 and answer.json()["res"]["enable_discord_notifications"] is True
    assert "SecretToken" not in answer.content.decode()
    assert "SecretToken" not in call("get", "/api/orgpreferences/", admin_token).content.decode()
    assert OrgPreferences.objects.get(org=org).discord_webhook == WEBHOOK


def test_a_malformed_body_is_a_4xx(org, admin_token):
    answer = call("put", "/api/orgpreferences/llm_approval", admin_token, {"llm_optin": "maybe"})
    assert 400 <= answer.status_code < 500
