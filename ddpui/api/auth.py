"""Authentication of the API, as Dalgo's backend does it, plus the project's own API tokens.

Order: the `access_token` cookie first (Dalgo's webapp_v2), else `Authorization: Bearer` with a JWT (Dalgo's
webapp) or a `ddp_` API token (machine clients). The org is the user's membership named by the `x-dalgo-org`
header (none: the first membership; a slug they are not a member of: 401). An expired cookie token answers 498
("Token expired": the v2 frontend then refreshes and retries); anything else invalid answers 401.

A live token always passes, whoever else failed from the same address (users behind one NAT or proxy share
it). Failed attempts are counted per client (ddpui.core.auth.throttle); past the limit they get 429 with
Retry-After instead of 401.
Routes declare the permission slugs they need with `has_permission` (ddpui.core.auth.permissions); without
them: 403.
"""

import functools
from collections.abc import Callable

from django.http import HttpRequest
from ninja.errors import AuthorizationError, Throttled
from ninja.security import HttpBearer
from rest_framework_simplejwt.tokens import AccessToken

from ddpui.core.auth.api_tokens import TOKEN_PREFIX, orguser_for_token
from ddpui.core.auth.jwt_tokens import ExpiredJwt, InvalidJwt, decode, revocation_ids, user_id_of
from ddpui.core.auth.orgs import membership
from ddpui.core.auth.permissions import ALL_PERMISSIONS, MACHINE_PERMISSIONS, permissions_of_role
from ddpui.core.auth.throttle import API_SCOPE, blocked_for_seconds, client_address, refuse_failure, subject_key
from ddpui.models import OrgUser

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
ORG_HEADER = "x-dalgo-org"


class TokenExpired(Exception):
    """An expired `access_token` cookie: answered 498 {"detail": "Token expired"} (see ddpui.api)."""


def refuse_blocked_login(request: HttpRequest, username: str) -> str:
    """The throttle key of a login (address and username, so users behind one NAT address are not locked out
    by another's typos); raises Throttled (429) while that key is blocked after too many wrong passwords."""
    key = subject_key(client_address(request), username)
    wait = blocked_for_seconds(API_SCOPE, key)
    if wait is not None:
        raise Throttled(wait)
    return key


def count_failure(key: str) -> None:
    """Count one failed attempt; raises Throttled (429) once the key is over the limit."""
    wait = refuse_failure(API_SCOPE, key)
    if wait is not None:
        raise Throttled(wait)


def selected_org_slug(request: HttpRequest) -> str | None:
    """The org slug the client asks for in `x-dalgo-org`, or None when it names none."""
    return request.headers.get(ORG_HEADER, "").strip() or None


def orguser_for_jwt(request: HttpRequest, raw: str) -> OrgUser | None:
    """The selected membership of a live (not logged-out) access token's user, or None; one query. Raises
    InvalidJwt for a bad token, ExpiredJwt for an expired one."""
    token = decode(AccessToken, raw)
    return membership(user_id_of(token), selected_org_slug(request), unless_revoked=revocation_ids(token))


def orguser_for_api_token(request: HttpRequest, raw: str) -> OrgUser | None:
    """A `ddp_` token's membership: bound to one org, so a header naming another org is refused."""
    orguser = orguser_for_token(raw)
    wanted = selected_org_slug(request)
    if orguser is None or (wanted is not None and wanted != orguser.org.slug):
        return None
    return orguser


class DalgoAuth(HttpBearer):
    """Cookie or bearer authentication; sets request.orguser and request.permissions (a set of slugs)."""

    def __call__(self, request: HttpRequest) -> OrgUser | None:
        """Authenticate; count a missing or bad credential as a failure (429 once the client is over the limit).
        A right credential is never refused, whoever else failed from the same address."""
        orguser = self.credentials(request)
        if orguser is None:
            count_failure(client_address(request))
        return orguser

    def credentials(self, request: HttpRequest) -> OrgUser | None:
        """The cookie decides when present (even if a bearer header is there too), as in Dalgo."""
        cookie = request.COOKIES.get(ACCESS_COOKIE)
        if not cookie:
            return super().__call__(request)
        try:
            orguser = orguser_for_jwt(request, cookie)
        except ExpiredJwt as exc:
            raise TokenExpired() from exc
        except InvalidJwt:
            return None
        return self.grant(request, orguser, None)

    def authenticate(self, request: HttpRequest, token: str) -> OrgUser | None:
        """A bearer token: ours (`ddp_`, read-only machine client) or a JWT; an expired bearer JWT is a 401."""
        if token.startswith(TOKEN_PREFIX):
            return self.grant(request, orguser_for_api_token(request, token), MACHINE_PERMISSIONS)
        try:
            orguser = orguser_for_jwt(request, token)
        except InvalidJwt:
            return None
        return self.grant(request, orguser, None)

    @staticmethod
    def grant(request: HttpRequest, orguser: OrgUser | None, permissions: frozenset[str] | None) -> OrgUser | None:
        """Attach the membership and its permissions (the role's, unless given) to the request."""
        if orguser is not None:
            request.orguser = orguser
            request.permissions = permissions if permissions is not None else permissions_of_role(orguser.role)
        return orguser


def has_permission(slugs: list[str]) -> Callable:
    """Decorate a route (below its router decorator) so that it answers 403 unless the caller's membership has
    every slug. Dalgo's own decorator has this name and form. A misspelt slug fails at import, not with a 403."""
    unknown = set(slugs) - ALL_PERMISSIONS
    if unknown:
        raise ValueError(f"unknown permission slugs {sorted(unknown)}")

    def decorate(view: Callable) -> Callable:
        """Wrap the view; django-ninja reads the wrapped signature (functools.wraps)."""

        @functools.wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs):
            """Check, then call the view."""
            missing = [slug for slug in slugs if slug not in getattr(request, "permissions", frozenset())]
            if missing:
                raise AuthorizationError(message=f"not allowed: needs {', '.join(missing)}")
            return view(request, *args, **kwargs)

        return guarded

    return decorate
