"""Login, token refresh and logout, as Dalgo's backend answers them to its two frontends.

- webapp (v1): POST /api/login/ -> the profile with `token` and `refresh_token`; it then sends
  `Authorization: Bearer <token>`.
- webapp_v2: POST /api/v2/login/ -> the profile, tokens in httpOnly cookies; POST /api/v2/token/refresh renews
  the access cookie from the refresh cookie (after a 498).
- POST /api/logout/ ends the session: its access and refresh tokens stop working everywhere; cookies cleared.
Wrong credentials answer 401 and count toward the failed-auth limit of the client (ddpui.core.auth.throttle).
"""

import json

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from ddpui.api.auth import ACCESS_COOKIE, REFRESH_COOKIE, count_failure, refuse_blocked_login
from ddpui.api.schemas import ErrorOut
from ddpui.core.auth.jwt_tokens import InvalidJwt, issue_pair, refreshed_access, revoke
from ddpui.core.auth.orgs import is_active_user, normalize_email
from ddpui.core.auth.permissions import permissions_of_role
from ddpui.core.auth.throttle import client_address

router = Router(tags=["auth"])
# Long enough for any email and passphrase; bounded so a huge body is refused before the password hasher.
MAX_CREDENTIAL_CHARS = 1024
BAD_CREDENTIALS = {"detail": "Invalid credentials"}


class LoginIn(Schema):
    """Dalgo's login body: the email as `username`."""

    username: str = Field(..., min_length=1, max_length=MAX_CREDENTIAL_CHARS)
    password: str = Field(..., min_length=1, max_length=MAX_CREDENTIAL_CHARS)


class OrgMembershipOut(Schema):
    """One org the user belongs to, the slug to send as `x-dalgo-org`, and what the role allows there."""

    slug: str
    name: str
    role: str
    permissions: list[str]


class ProfileOut(Schema):
    """The fields Dalgo's login answers with (its frontends read these), and the user's orgs."""

    email: str
    email_verified: bool
    active: bool
    can_create_orgs: bool
    is_consultant: bool
    is_platform_admin: bool
    orgs: list[OrgMembershipOut]


class LoginOut(ProfileOut):
    """v1 login: the profile with the access token (`token`) and the refresh token."""

    token: str
    refresh_token: str


class OkOut(Schema):
    """Done."""

    success: bool


def profile(user: AbstractBaseUser) -> dict:
    """The user's profile. Users are created by operators (commands, admin), who vouch for the email: verified.
    Creating orgs is the platform admins' (Django superusers') job here; there are no consultants."""
    orgusers = user.orgusers.select_related("org").order_by("id")
    return {
        "email": user.email or user.username,
        "email_verified": True,
        "active": user.is_active,
        "can_create_orgs": user.is_superuser,
        "is_consultant": False,
        "is_platform_admin": user.is_superuser,
        "orgs": [
            {"slug": ou.org.slug, "name": ou.org.name, "role": ou.role,
             "permissions": sorted(permissions_of_role(ou.role))}
            for ou in orgusers
        ],
    }


def logged_in_user(request: HttpRequest, payload: LoginIn) -> AbstractBaseUser | None:
    """The user these credentials belong to, or None (counted as a failure). Raises Throttled while blocked."""
    username = normalize_email(payload.username)
    key = refuse_blocked_login(request, username)
    user = authenticate(request, username=username, password=payload.password)
    if user is None:
        count_failure(key)
    return user


def set_cookie(response: HttpResponse, name: str, value: str, max_age: int) -> None:
    """A token cookie with the configured flags, on every path."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=settings.COOKIE_HTTPONLY,
        secure=settings.COOKIE_SECURE, samesite=settings.COOKIE_SAMESITE,
    )


def set_access_cookie(response: HttpResponse, access: str) -> None:
    """The access-token cookie, living as long as the token."""
    set_cookie(response, ACCESS_COOKIE, access, int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()))


def clear_cookies(response: HttpResponse) -> None:
    """Delete both token cookies (same path and SameSite as when set, so browsers match them)."""
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path="/", samesite=settings.COOKIE_SAMESITE)


@router.post("/login/", auth=None, response={200: LoginOut, 401: ErrorOut}, summary="Log in (Dalgo's webapp)")
def login(request: HttpRequest, payload: LoginIn):
    """The profile with an access token (`token`) and a refresh token."""
    user = logged_in_user(request, payload)
    if user is None:
        return Status(401, BAD_CREDENTIALS)
    access, refresh = issue_pair(user)
    return Status(200, {**profile(user), "token": access, "refresh_token": refresh})


@router.post("/v2/login/", auth=None, response={200: ProfileOut, 401: ErrorOut}, summary="Log in (webapp_v2)")
def login_v2(request: HttpRequest, response: HttpResponse, payload: LoginIn):
    """The profile; the tokens go in httpOnly cookies `access_token` and `refresh_token`."""
    user = logged_in_user(request, payload)
    if user is None:
        return Status(401, BAD_CREDENTIALS)
    access, refresh = issue_pair(user)
    set_access_cookie(response, access)
    set_cookie(response, REFRESH_COOKIE, refresh,
               int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()))
    return Status(200, profile(user))


@router.post("/v2/token/refresh", auth=None, response={200: OkOut, 401: ErrorOut},
             summary="A new access cookie from the refresh cookie")
def refresh_v2(request: HttpRequest, response: HttpResponse):
    """401 (counted as a failure) when the refresh cookie is missing, expired, revoked or its user inactive."""
    try:
        user_id, access = refreshed_access(request.COOKIES.get(REFRESH_COOKIE, ""))
    except InvalidJwt:
        user_id, access = None, ""
    if not is_active_user(user_id):
        count_failure(client_address(request))
        return Status(401, {"detail": "Invalid refresh token"})
    set_access_cookie(response, access)
    return Status(200, {"success": True})


def refresh_token_in_body(request: HttpRequest) -> str:
    """A v1 client may send its refresh token as {"refresh_token": ...} (or "refresh"); raises ValueError for a
    body that is not a JSON object."""
    if not request.body.strip():
        return ""
    body = json.loads(request.body)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    value = body.get("refresh_token") or body.get("refresh") or ""
    return value if isinstance(value, str) else ""


@router.post("/logout/", auth=None, response={200: OkOut, 400: ErrorOut}, summary="End the session")
def logout(request: HttpRequest, response: HttpResponse):
    """Revoke the session's tokens found in the cookies, the bearer header and the body; clear the cookies.
    Idempotent: a second logout (or one with no token) is also 200."""
    try:
        body_refresh = refresh_token_in_body(request)
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors too
        return Status(400, {"detail": "the body must be a JSON object"})
    bearer = request.headers.get("Authorization", "")
    scheme, _, credential = bearer.partition(" ")
    revoke([
        (AccessToken, request.COOKIES.get(ACCESS_COOKIE, "")),
        (AccessToken, credential.strip() if scheme.lower() == "bearer" else ""),
        (RefreshToken, request.COOKIES.get(REFRESH_COOKIE, "")),
        (RefreshToken, body_refresh),
    ])
    clear_cookies(response)
    return Status(200, {"success": True})
