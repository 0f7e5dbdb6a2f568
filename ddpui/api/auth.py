"""Bearer-token authentication of the read API: every request acts as one OrgUser, within its org.

A live token always passes, whoever else failed from the same address (users behind one NAT or proxy share
it). Failed attempts are counted per client (ddpui.core.auth.throttle); past the limit they get 429 with
Retry-After instead of 401.
"""

from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.security import HttpBearer

from ddpui.core.auth.api_tokens import orguser_for_token
from ddpui.core.auth.throttle import API_SCOPE, client_address, refuse_failure
from ddpui.models import OrgUser


class OrgUserBearer(HttpBearer):
    """`Authorization: Bearer <token>`; sets request.orguser. Unknown or revoked tokens are a 401."""

    def __call__(self, request: HttpRequest) -> OrgUser | None:
        """Authenticate; count a missing or bad token as a failure (429 once the client is over the limit)."""
        orguser = super().__call__(request)
        if orguser is None:
            wait = refuse_failure(API_SCOPE, client_address(request))
            if wait is not None:
                raise Throttled(wait)
        return orguser

    def authenticate(self, request: HttpRequest, token: str) -> OrgUser | None:
        """The token's live OrgUser, or None (401)."""
        orguser = orguser_for_token(token)
        if orguser is not None:
            request.orguser = orguser
        return orguser
