"""The role -> permission map: one entry per Dalgo role; reads for everyone, edits for admins only."""

from ddpui.core.auth.permissions import (
    ALL_PERMISSIONS,
    EDIT_PERMISSIONS,
    MACHINE_PERMISSIONS,
    ROLE_PERMISSIONS,
    permissions_of_role,
)
from ddpui.models import OrgUserRole


def test_every_role_has_an_entry_and_only_known_slugs():
    assert set(ROLE_PERMISSIONS) == set(OrgUserRole.values)
    assert all(slugs <= ALL_PERMISSIONS for slugs in ROLE_PERMISSIONS.values())


def test_everyone_reads_and_only_admins_edit():
    for role in OrgUserRole.values:
        assert {"can_view_pipeline", "can_view_task_progress"} <= permissions_of_role(role)
    assert not permissions_of_role("member") & EDIT_PERMISSIONS
    assert not permissions_of_role("analyst") & EDIT_PERMISSIONS
    assert EDIT_PERMISSIONS <= permissions_of_role("admin") and "can_manage_org" not in permissions_of_role("admin")
    assert permissions_of_role("super-admin") == ALL_PERMISSIONS


def test_machine_clients_only_read_and_unknown_roles_get_nothing():
    assert MACHINE_PERMISSIONS == {"can_view_pipeline", "can_view_task_progress"}
    assert permissions_of_role("account-manager") == frozenset()
