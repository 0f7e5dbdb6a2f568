"""The org's say over where its logs go (LLM opt-in) and where its failures are told (Discord).

The LLM gate itself is `llm_refusal`, asked once, right before the model call (ddpui/core/summaries/summarize.py);
opting in is ddpui/core/summaries/optin.py (it upgrades offline summaries).
"""

from django.conf import settings

from ddpui.core.org_settings.usage import over_budget
from ddpui.models import Org, OrgPreferences

NOT_OPTED_IN = "the org has not opted in to sending its logs to an LLM"
OVER_BUDGET = "the org used its monthly LLM token budget"


class InvalidWebhook(ValueError):
    """A Discord webhook URL we refuse to call (the API answers 400)."""


def preferences_of(org: Org) -> OrgPreferences:
    """The org's preferences; an org that predates them gets LLM_OPTIN_DEFAULT."""
    preferences, _ = OrgPreferences.objects.get_or_create(org=org, defaults={"llm_optin": settings.LLM_OPTIN_DEFAULT})
    return preferences


def create_preferences(sender, instance: Org, created: bool, **_kwargs) -> None:
    """post_save receiver on Org: a new org starts with LLM_OPTIN_DEFAULT (as Dalgo's org creation does)."""
    if created:
        preferences_of(instance)


def llm_refusal(org: Org | None) -> str:
    """Why this org's logs must not go to the LLM now ("" when they may). Read fresh on every call, so opting
    out takes effect for the next request at once."""
    if org is None:
        return NOT_OPTED_IN
    optin = OrgPreferences.objects.filter(org=org).values_list("llm_optin", flat=True).first()
    if not (settings.LLM_OPTIN_DEFAULT if optin is None else optin):
        return NOT_OPTED_IN
    if over_budget(org):
        return OVER_BUDGET
    return ""


def check_discord_webhook(url: str) -> str:
    """The URL if it starts with an allowed prefix (DISCORD_WEBHOOK_ALLOWED_PREFIXES), else InvalidWebhook."""
    url = (url or "").strip()
    if not url or not any(url.startswith(prefix) for prefix in settings.DISCORD_WEBHOOK_ALLOWED_PREFIXES):
        raise InvalidWebhook(
            "discord_webhook must start with one of: " + ", ".join(settings.DISCORD_WEBHOOK_ALLOWED_PREFIXES)
        )
    if any(char.isspace() for char in url) or len(url) > 500:
        raise InvalidWebhook("discord_webhook is not a valid URL")
    return url


def set_discord(*, org: Org, enabled: bool, webhook: str | None) -> OrgPreferences:
    """Turn Discord notifications on (with a checked webhook URL) or off (the URL is kept unless a new one is
    given)."""
    preferences = preferences_of(org)
    if enabled:
        preferences.discord_webhook = check_discord_webhook(webhook or preferences.discord_webhook or "")
    elif webhook:
        preferences.discord_webhook = check_discord_webhook(webhook)
    preferences.enable_discord_notifications = enabled
    preferences.save(update_fields=["discord_webhook", "enable_discord_notifications", "updated_at"])
    return preferences


def masked_webhook(url: str | None) -> str | None:
    """The webhook URL with its token hidden: it is a credential (anyone holding it can post to the channel)."""
    if not url:
        return None
    head, _, token = url.rpartition("/")
    return f"{head}/{token[:4]}…" if token else url
