"""API tokens: issued once in clear, stored as SHA-256, looked up by hash, revoked at once."""

import hashlib
import secrets

from django.utils import timezone

from ddpui.models import ApiToken, OrgUser

TOKEN_PREFIX = "ddp_"


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def issue_token(orguser: OrgUser, name: str = "default") -> str:
    """Create a token for an org user and return it in clear (the only time it exists in clear)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(orguser=orguser, name=name, token_hash=hash_token(token), prefix=token[:10])
    return token


def orguser_for_token(token: str) -> OrgUser | None:
    """The org user a live token belongs to, or None."""
    # On every API request: one query, one join (the org), no ORDER BY.
    found = list(
        OrgUser.objects.select_related("org").filter(
            api_tokens__token_hash=hash_token(token), api_tokens__revoked_at__isnull=True
        )[:1]
    )
    return found[0] if found else None


def revoke_token(token: str) -> bool:
    """Revoke a token given in clear; True if it was live."""
    return bool(
        ApiToken.objects.filter(token_hash=hash_token(token), revoked_at__isnull=True).update(revoked_at=timezone.now())
    )
