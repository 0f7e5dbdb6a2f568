"""The only code that speaks to Discord: one message posted to an org's webhook (Discord's "execute webhook")."""

import httpx
from django.conf import settings

# Discord refuses a message whose content is longer than this.
DISCORD_MAX_CONTENT = 2000


class DiscordError(Exception):
    """The message was not posted; `retry_after` is Discord's rate-limit wait when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def post_message(webhook_url: str, content: str) -> None:
    """Post `content` to the webhook; returns only when Discord accepted it (2xx). No mention pings anyone."""
    body = {"content": content[:DISCORD_MAX_CONTENT], "allowed_mentions": {"parse": []}}
    try:
        response = httpx.post(webhook_url, json=body, timeout=settings.DISCORD_HTTP_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise DiscordError(f"Discord unreachable: {type(exc).__name__}") from exc
    if response.status_code == 429:
        try:
            retry_after = float(response.json().get("retry_after"))
        except (ValueError, TypeError, AttributeError):
            retry_after = None
        raise DiscordError("Discord rate limit", retry_after=retry_after)
    if not response.is_success:
        # The URL holds the webhook's token: never put it in the error.
        raise DiscordError(f"Discord answered HTTP {response.status_code}")
