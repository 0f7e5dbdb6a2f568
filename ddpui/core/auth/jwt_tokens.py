"""Dalgo's JWTs, made and read with djangorestframework-simplejwt's AccessToken and RefreshToken (without DRF's
views): signed with SIMPLE_JWT["SIGNING_KEY"] (JWT_SECRET_KEY), claims token_type, exp, iat, jti and user_id, so
a token minted by Dalgo's own backend with the same secret is accepted as it is.

Our tokens also carry `sid`, the jti of the refresh token of their login: the access tokens derived from a refresh
token copy it, so a logout that only knows the access token still ends the whole session. A logout writes the
jti (and sid) to RevokedToken; every request checks that table (one indexed read).
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch

from ddpui.models import RevokedToken

SESSION_CLAIM = "sid"
# A JWT is three base64url parts; anything longer than this is not one of ours (nor Dalgo's) and is not decoded.
MAX_TOKEN_CHARS = 4096


class InvalidJwt(Exception):
    """Not a live token of the expected type: bad signature, malformed, wrong type, revoked, no user."""


class ExpiredJwt(InvalidJwt):
    """A well-signed token whose `exp` has passed (the v2 frontend answers it by refreshing)."""


def issue_pair(user: AbstractBaseUser) -> tuple[str, str]:
    """A new session for the user: (access token, refresh token), both naming the session in `sid`."""
    refresh = RefreshToken.for_user(user)
    refresh[SESSION_CLAIM] = refresh["jti"]
    return str(refresh.access_token), str(refresh)


def decode(token_class: type[Token], raw: str) -> Token:
    """The verified token (signature, expiry, type), without the revocation check."""
    if not raw or len(raw) > MAX_TOKEN_CHARS:
        raise InvalidJwt("no token")
    try:
        return token_class(raw)
    except ExpiredTokenError as exc:
        raise ExpiredJwt(str(exc)) from exc
    except TokenError as exc:
        raise InvalidJwt(str(exc)) from exc


def revocation_ids(token: Token) -> list[str]:
    """The ids whose revocation ends this token: its own jti and its session's."""
    return [str(value) for value in (token.get("jti"), token.get(SESSION_CLAIM)) if value]


def live_token(token_class: type[Token], raw: str) -> Token:
    """A verified token that no logout has ended."""
    token = decode(token_class, raw)
    if RevokedToken.objects.filter(jti__in=revocation_ids(token)).exists():
        raise InvalidJwt("token revoked")
    return token


def user_id_of(token: Token) -> int:
    """The `user_id` claim as our User primary key."""
    try:
        return int(token["user_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidJwt("no user_id claim") from exc


def refreshed_access(raw_refresh: str) -> tuple[int, str]:
    """(user id, a new access token) from a live refresh token; the access token keeps the session's `sid`."""
    refresh = live_token(RefreshToken, raw_refresh)
    return user_id_of(refresh), str(refresh.access_token)


def revoke(raw_tokens: list[tuple[type[Token], str]]) -> int:
    """End the given tokens (and their sessions) for every worker; returns how many ids were written.

    Only tokens with a valid signature are recorded (nobody can fill the table with made-up ids); expired ones
    need nothing. A session id stays revoked as long as its refresh token could live.
    """
    now = timezone.now()
    session_end = now + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    rows: dict[str, RevokedToken] = {}
    for token_class, raw in raw_tokens:
        try:
            token = decode(token_class, raw)
        except InvalidJwt:
            continue
        jti = str(token.get("jti") or "")
        if jti:
            rows[jti] = RevokedToken(jti=jti[:64], expires_at=datetime_from_epoch(token["exp"]))
        session = str(token.get(SESSION_CLAIM) or "")
        if session and session != jti:
            rows.setdefault(session, RevokedToken(jti=session[:64], expires_at=session_end))
    RevokedToken.objects.bulk_create(rows.values(), ignore_conflicts=True)
    return len(rows)


def prune_revoked(*, grace: timedelta = timedelta(minutes=5)) -> int:
    """Delete revocations of tokens that have expired anyway; returns the count."""
    deleted, _ = RevokedToken.objects.filter(expires_at__lt=timezone.now() - grace).delete()
    return deleted
