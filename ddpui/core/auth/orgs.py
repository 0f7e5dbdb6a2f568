"""Creating orgs and their manager users (used by the create_org command and the demo)."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from ddpui.core.auth.api_tokens import issue_token
from ddpui.models import Org, OrgUser, OrgUserRole


@transaction.atomic
def create_org_with_manager(*, name: str, email: str, slug: str | None = None) -> tuple[Org, OrgUser, str]:
    """Create (or reuse) an org and a manager user, and issue a new API token; returns (org, orguser, token)."""
    org, _ = Org.objects.get_or_create(slug=slug or slugify(name), defaults={"name": name})
    user, _ = get_user_model().objects.get_or_create(username=email, defaults={"email": email})
    orguser, _ = OrgUser.objects.get_or_create(
        user=user, defaults={"org": org, "role": OrgUserRole.ACCOUNT_MANAGER}
    )
    return org, orguser, issue_token(orguser)
