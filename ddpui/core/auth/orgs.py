"""Orgs, their users and memberships: created by the create_org and add_org_user commands (and the demo), and
chosen per request among a user's memberships (Dalgo's `x-dalgo-org` header)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists
from django.utils.text import slugify

from ddpui.core.auth.api_tokens import issue_token
from ddpui.models import MANAGER_ROLES, Org, OrgUser, OrgUserRole, RevokedToken


class OrgUserError(ValueError):
    """A membership that cannot be made (unknown org or role); the message says which."""


def normalize_email(email: str) -> str:
    """Emails are usernames (as in Dalgo), compared case-insensitively: stored stripped and lower-cased."""
    return email.strip().lower()


def get_or_create_user(email: str, password: str | None) -> AbstractBaseUser:
    """The user with this email (created when new). A given password is set; a new user without one gets an
    unusable password (it can only use API tokens until an operator sets one)."""
    email = normalize_email(email)
    user, created = get_user_model().objects.get_or_create(username=email, defaults={"email": email})
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    elif created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def is_active_user(user_id: int | None) -> bool:
    """Whether the id names a user who may still sign in (a refresh for a deactivated user is refused)."""
    return user_id is not None and get_user_model().objects.filter(id=user_id, is_active=True).exists()


def create_org_with_admin(
    *, name: str, email: str, slug: str | None = None, password: str | None = None
) -> tuple[Org, OrgUser, str]:
    """Create (or reuse) an org, its first user as super-admin, and issue a new API token; returns
    (org, orguser, token). An existing user keeps their other orgs and joins this one."""
    org, _ = Org.objects.get_or_create(slug=slug or slugify(name), defaults={"name": name})
    user = get_or_create_user(email, password)
    orguser, _ = OrgUser.objects.get_or_create(user=user, org=org, defaults={"role": OrgUserRole.SUPER_ADMIN})
    return org, orguser, issue_token(orguser)


@transaction.atomic
def add_org_user(*, org_slug: str, email: str, role: str, password: str | None = None) -> OrgUser:
    """Make the user (existing or new) a member of the org with this role; an existing membership gets the
    role. Raises OrgUserError for an unknown org or role."""
    if role not in OrgUserRole.values:
        raise OrgUserError(f"unknown role {role!r}: use one of {', '.join(OrgUserRole.values)}")
    org = Org.objects.filter(slug=org_slug).first()
    if org is None:
        raise OrgUserError(f"no org with slug {org_slug!r}")
    user = get_or_create_user(email, password)
    orguser, _ = OrgUser.objects.update_or_create(user=user, org=org, defaults={"role": role})
    return orguser


def membership(user_id: int, org_slug: str | None, *, unless_revoked: list[str] = ()) -> OrgUser | None:
    """The active user's membership of the org named by slug, or (no slug) their first membership; None when
    there is none, or when any of `unless_revoked` (a token's jti and session id) has been revoked by a logout.
    One query with its org and user: the revocation check rides along instead of costing a round trip."""
    rows = OrgUser.objects.select_related("org", "user").filter(user_id=user_id, user__is_active=True)
    if org_slug is not None:
        rows = rows.filter(org__slug=org_slug)
    if unless_revoked:
        rows = rows.filter(~Exists(RevokedToken.objects.filter(jti__in=unless_revoked)))
    return rows.order_by("id").first()


def manager_emails(org: Org) -> list[str]:
    """Email addresses of the org's admins (Dalgo's super-admins and admins): who is told of failures and budgets."""
    emails = OrgUser.objects.filter(org=org, role__in=MANAGER_ROLES).values_list("user__email", flat=True)
    return sorted({email for email in emails if email})
