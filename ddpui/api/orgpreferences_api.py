"""Dalgo's org preferences endpoints: the org decides whether its logs may go to an LLM and whether its failures
are also told on Discord. Answers follow Dalgo's `{"success": true, "res": {...}}` shape."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status

from ddpui.api.auth import has_permission
from ddpui.api.schemas import ErrorOut
from ddpui.core.org_settings.preferences import InvalidWebhook, masked_webhook, preferences_of, set_discord
from ddpui.core.summaries.optin import set_llm_optin
from ddpui.models import OrgPreferences

router = Router(tags=["orgpreferences"])


class PreferencesRes(Schema):
    """The org's preferences; the Discord webhook's token is masked (it is a credential)."""

    org: str
    llm_optin: bool
    llm_optin_approved_by: str | None
    llm_optin_date: datetime | None
    enable_discord_notifications: bool
    discord_webhook: str | None


class PreferencesOut(Schema):
    """Dalgo's envelope."""

    success: bool
    res: PreferencesRes


class LlmApprovalIn(Schema):
    """PUT /llm_approval."""

    llm_optin: bool


class DiscordIn(Schema):
    """PUT /enable-discord-notifications."""

    enable_discord_notifications: bool
    discord_webhook: str | None = None


def preferences_out(preferences: OrgPreferences) -> dict[str, Any]:
    """Dalgo's answer for a preferences row."""
    approver = preferences.llm_optin_approved_by
    return {
        "success": True,
        "res": {
            "org": preferences.org.slug,
            "llm_optin": preferences.llm_optin,
            "llm_optin_approved_by": (approver.user.email or approver.user.username) if approver else None,
            "llm_optin_date": preferences.llm_optin_date,
            "enable_discord_notifications": preferences.enable_discord_notifications,
            "discord_webhook": masked_webhook(preferences.discord_webhook),
        },
    }


@router.get("/", response=PreferencesOut, summary="The org's preferences")
@has_permission(["can_view_pipeline"])
def get_preferences(request: HttpRequest):
    """Any member of the org may read them."""
    return preferences_out(preferences_of(request.orguser.org))


@router.put("/llm_approval", response={200: PreferencesOut, 403: ErrorOut}, summary="Opt the org in or out of the LLM")
@has_permission(["can_edit_llm_settings"])
def put_llm_approval(request: HttpRequest, payload: LlmApprovalIn):
    """Opting in (an org admin's approval) upgrades recent offline summaries; opting out holds from the next
    request on."""
    preferences = set_llm_optin(org=request.orguser.org, orguser=request.orguser, optin=payload.llm_optin)
    return Status(200, preferences_out(preferences))


@router.put(
    "/enable-discord-notifications",
    response={200: PreferencesOut, 400: ErrorOut, 403: ErrorOut},
    summary="Tell the org's failures on a Discord webhook too",
)
@has_permission(["can_edit_org_notification_settings"])
def put_discord(request: HttpRequest, payload: DiscordIn):
    """The webhook URL must start with an allowed prefix (DISCORD_WEBHOOK_ALLOWED_PREFIXES): no internal address."""
    try:
        preferences = set_discord(
            org=request.orguser.org, enabled=payload.enable_discord_notifications, webhook=payload.discord_webhook
        )
    except InvalidWebhook as exc:
        return Status(400, {"detail": str(exc)})
    return Status(200, preferences_out(preferences))
