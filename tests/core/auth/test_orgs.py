"""Orgs and memberships: a user in several orgs, one row per org; the first membership by default."""

import pytest
from model_bakery import baker

from ddpui.core.auth.orgs import OrgUserError, add_org_user, create_org_with_admin, membership
from ddpui.models import Org, OrgUser

pytestmark = pytest.mark.django_db


def test_a_user_can_belong_to_several_orgs_with_a_role_in_each():
    org_a, admin, _ = create_org_with_admin(name="NGO A", email="Lead@NGO.test", password="pw-12345678")
    org_b, again, _ = create_org_with_admin(name="NGO B", email="lead@ngo.test")
    assert admin.user_id == again.user_id and admin.user.username == "lead@ngo.test"
    assert admin.user.check_password("pw-12345678"), "joining another org keeps the password"
    add_org_user(org_slug="ngo-b", email="lead@ngo.test", role="analyst")
    assert set(OrgUser.objects.values_list("org__slug", "role")) == {("ngo-a", "super-admin"), ("ngo-b", "analyst")}
    assert membership(admin.user_id, None).org == org_a
    assert membership(admin.user_id, "ngo-b").org == org_b
    assert membership(admin.user_id, "ngo-c") is None


def test_a_new_user_without_a_password_cannot_log_in_with_one():
    orguser = add_org_user(org_slug=baker.make(Org, slug="ngo-x").slug, email="new@ngo.test", role="member")
    assert not orguser.user.has_usable_password()


@pytest.mark.parametrize("slug, role, message", [("ngo-x", "boss", "unknown role"), ("nowhere", "member", "no org")])
def test_an_unknown_org_or_role_is_refused(slug, role, message):
    baker.make(Org, slug="ngo-x")
    with pytest.raises(OrgUserError, match=message):
        add_org_user(org_slug=slug, email="new@ngo.test", role=role)
    assert not OrgUser.objects.exists()
