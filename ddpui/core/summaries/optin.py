"""An org admin opts the org in or out of LLM summaries; opting in upgrades its recent offline summaries."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ddpui.core.org_settings.preferences import preferences_of
from ddpui.core.summaries.queue import enqueue_session_summary
from ddpui.models import LlmSession, Org, OrgPreferences, OrgUser, SummaryStatus


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
