"""The org's say over where its logs go (LLM opt-in) and where its failures are told (Discord).

The LLM gate itself is `llm_refusal`, asked once, right before the model call (ddpui/core/summaries/summarize.py).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ddpui.core.summaries.queue import enqueue_session_summary
from ddpui.core.usage import over_budget
from ddpui.models import LlmSession, Org, OrgPreferences, OrgUser, SummaryStatus

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


def set_llm_optin(*, org: Org, orguser: OrgUser, optin: bool) -> OrgPreferences:
    """Record the org admin's decision. Opting in upgrades the org's recent offline summaries with the model."""
    with transaction.atomic():
        preferences = OrgPreferences.objects.select_for_update().get(pk=preferences_of(org).pk)
        newly_in = optin and not preferences.llm_optin
        preferences.llm_optin = optin
        preferences.llm_optin_approved_by = orguser if optin else None
        preferences.llm_optin_date = timezone.now() if optin else None
        preferences.save()
        if newly_in:
            upgrade_offline_summaries(org)
    return preferences


def upgrade_offline_summaries(org: Org) -> list[int]:
    """Queue the regeneration of the org's ready offline summaries of the last LLM_OPTIN_UPGRADE_DAYS days."""
    since = timezone.now() - timedelta(days=settings.LLM_OPTIN_UPGRADE_DAYS)
    ids = list(
        LlmSession.objects.filter(org=org, provider="offline", status=SummaryStatus.READY, created_at__gte=since)
        .order_by("-created_at")
        .values_list("pk", flat=True)
    )
    for session_id in ids:
        enqueue_session_summary(session_id, regenerate=True)
    return ids


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
