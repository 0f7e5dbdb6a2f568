"""Bearer-token authentication of the read API: every request acts as one OrgUser, within its org.

Failed attempts are rate-limited per client (ddpui.core.auth.throttle): a blocked client gets 429 with
Retry-After before its token is even looked at.
"""

from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.security import HttpBearer

from ddpui.core.auth.throttle import API_SCOPE, blocked_for_seconds, client_address, record_failure
from ddpui.core.auth.api_tokens import orguser_for_token
from ddpui.models import OrgUser


class OrgUserBearer(HttpBearer):
    """`Authorization: Bearer <token>`; sets request.orguser. Unknown or revoked tokens are a 401."""

    def __call__(self, request: HttpRequest) -> OrgUser | None:
        """Refuse a blocked client (429); authenticate; count a missing or bad token as a failure."""
        client = client_address(request)
        wait = blocked_for_seconds(API_SCOPE, client)
        if wait is not None:
            raise Throttled(wait)
        orguser = super().__call__(request)
        if orguser is None:
            record_failure(API_SCOPE, client)
        return orguser

    def authenticate(self, request: HttpRequest, token: str) -> OrgUser | None:
        """The token's live OrgUser, or None (401)."""
        orguser = orguser_for_token(token)
        if orguser is not None:
            request.orguser = orguser
        return orguser
