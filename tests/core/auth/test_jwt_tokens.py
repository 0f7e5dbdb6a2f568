"""Our JWTs: simplejwt's claims (so Dalgo reads ours and we read Dalgo's), the session id that lets a logout end
both tokens, and the revocation list (ids only, pruned once the tokens have expired anyway)."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from ddpui.core.auth.jwt_tokens import (
    SESSION_CLAIM,
    ExpiredJwt,
    InvalidJwt,
    issue_pair,
    live_token,
    prune_revoked,
    refreshed_access,
    revoke,
)
from ddpui.core.operations.retention import prune_old_records
from ddpui.models import RevokedToken

pytestmark = pytest.mark.django_db


def claims(raw: str) -> dict:
    """The token's claims, verified with the shared secret alone (as Dalgo's backend would)."""
    return jwt.decode(raw, settings.SIMPLE_JWT["SIGNING_KEY"], algorithms=["HS256"])


def test_issued_tokens_carry_dalgos_claims_and_lifetimes(manager):
    access, refresh = issue_pair(manager.user)
    a, r = claims(access), claims(refresh)
    assert {"token_type", "exp", "iat", "jti", "user_id"} <= a.keys() and a["token_type"] == "access"
    assert r["token_type"] == "refresh" and str(a["user_id"]) == str(manager.user_id)
    assert a["exp"] - a["iat"] == settings.JWT_ACCESS_TOKEN_EXPIRY_MINUTES * 60
    assert r["exp"] - r["iat"] == settings.JWT_REFRESH_TOKEN_EXPIRY_DAYS * 86400
    # The access token names its login's session: the refresh token's jti.
    assert a[SESSION_CLAIM] == r["jti"] == r[SESSION_CLAIM] and a["jti"] != r["jti"]


def test_a_refreshed_access_token_stays_in_its_session(manager):
    _, refresh = issue_pair(manager.user)
    user_id, access = refreshed_access(refresh)
    assert user_id == manager.user_id and claims(access)[SESSION_CLAIM] == claims(refresh)["jti"]


def test_expired_and_invalid_tokens_are_told_apart(manager):
    token = AccessToken.for_user(manager.user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    with pytest.raises(ExpiredJwt):
        live_token(AccessToken, str(token))
    for raw in ("", "a.b.c", "x" * 10_000):
        with pytest.raises(InvalidJwt) as caught:
            live_token(AccessToken, raw)
        assert not isinstance(caught.value, ExpiredJwt)


def test_revoking_an_access_token_ends_its_refresh_token_too(manager):
    access, refresh = issue_pair(manager.user)
    assert revoke([(AccessToken, access)]) == 2
    for token_class, raw in ((AccessToken, access), (RefreshToken, refresh)):
        with pytest.raises(InvalidJwt):
            live_token(token_class, raw)
    # Another login of the same user is untouched.
    other_access, _ = issue_pair(manager.user)
    assert live_token(AccessToken, other_access)


def test_revocations_expire_with_their_tokens(manager):
    access, _ = issue_pair(manager.user)
    revoke([(AccessToken, access)])
    RevokedToken.objects.filter(jti=claims(access)["jti"]).update(expires_at=timezone.now() - timedelta(hours=1))
    assert prune_revoked() == 1
    assert prune_old_records()["revoked_tokens"] == 0
    assert RevokedToken.objects.count() == 1, "the session id lives as long as its refresh token could"
