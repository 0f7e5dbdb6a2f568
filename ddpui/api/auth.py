"""Bearer-token authentication of the read API: every request acts as one OrgUser, within its org."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from ddpui.core.tokens import orguser_for_token
from ddpui.models import OrgUser


class OrgUserBearer(HttpBearer):
    """`Authorization: Bearer <token>`; sets request.orguser. Unknown or revoked tokens are a 401."""

    def authenticate(self, request: HttpRequest, token: str) -> OrgUser | None:
        """The token's live OrgUser, or None (401)."""
        orguser = orguser_for_token(token)
        if orguser is not None:
            request.orguser = orguser
        return orguser
