"""Which org user may change what: Dalgo's role -> permission slugs, checked in one place.

Dalgo grants permissions to roles (account manager, pipeline manager, analyst, guest) and checks a slug per
endpoint. Until the read API authenticates with Dalgo's JWTs and reads the role's permissions from the database,
this map is the grant; `has_permission` is the only function the API asks.
"""

from ddpui.models import OrgUser, OrgUserRole

CAN_EDIT_LLM_SETTINGS = "can_edit_llm_settings"
CAN_EDIT_ORG_NOTIFICATION_SETTINGS = "can_edit_org_notification_settings"
CAN_VIEW_USAGE = "can_view_usage_dashboard"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    OrgUserRole.ACCOUNT_MANAGER: frozenset({CAN_EDIT_LLM_SETTINGS, CAN_EDIT_ORG_NOTIFICATION_SETTINGS, CAN_VIEW_USAGE}),
    OrgUserRole.PIPELINE_MANAGER: frozenset({CAN_EDIT_ORG_NOTIFICATION_SETTINGS, CAN_VIEW_USAGE}),
    OrgUserRole.ANALYST: frozenset(),
    OrgUserRole.GUEST: frozenset(),
}


def has_permission(orguser: OrgUser, slug: str) -> bool:
    """Whether the org user's role grants the permission `slug`."""
    return slug in ROLE_PERMISSIONS.get(orguser.role, frozenset())
