"""What each org role may do, as data: Dalgo's roles mapped to Dalgo's permission slugs.

Decided for this project (Dalgo keeps the same map in its database; these are the slugs our endpoints check):
- super-admin: everything, including managing the org (its users and settings);
- admin: everything but managing the org itself;
- analyst and member: read pipelines, runs, summaries and their progress; no settings. (An analyst and a member
  differ in Dalgo's other features, not in anything this project serves.)
- machine clients (the project's own `ddp_` API tokens): read only, whatever their creator's role.
"""

CAN_VIEW_PIPELINE = "can_view_pipeline"
CAN_VIEW_TASK_PROGRESS = "can_view_task_progress"
CAN_EDIT_LLM_SETTINGS = "can_edit_llm_settings"
CAN_EDIT_ORG_NOTIFICATION_SETTINGS = "can_edit_org_notification_settings"
CAN_MANAGE_ORG = "can_manage_org"

READ_PERMISSIONS = frozenset({CAN_VIEW_PIPELINE, CAN_VIEW_TASK_PROGRESS})
EDIT_PERMISSIONS = frozenset({CAN_EDIT_LLM_SETTINGS, CAN_EDIT_ORG_NOTIFICATION_SETTINGS})

ALL_PERMISSIONS = READ_PERMISSIONS | EDIT_PERMISSIONS | {CAN_MANAGE_ORG}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "super-admin": ALL_PERMISSIONS,
    "admin": READ_PERMISSIONS | EDIT_PERMISSIONS,
    "analyst": READ_PERMISSIONS,
    "member": READ_PERMISSIONS,
}

MACHINE_PERMISSIONS = READ_PERMISSIONS


def permissions_of_role(role: str) -> frozenset[str]:
    """The slugs a role grants; an unknown role (a row written by hand) grants nothing rather than failing."""
    return ROLE_PERMISSIONS.get(role, frozenset())
