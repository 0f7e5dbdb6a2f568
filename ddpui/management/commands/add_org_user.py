"""manage.py add_org_user: a user (existing, or new) joins an org with a role."""

from django.core.management.base import BaseCommand, CommandError

from ddpui.core.auth.orgs import OrgUserError, add_org_user
from ddpui.models import OrgUserRole


class Command(BaseCommand):
    """Add a membership (or change its role)."""

    help = "Make a user a member of an org with a role; a user may belong to several orgs."

    def add_arguments(self, parser):
        """--org, --email, --role, optional --password."""
        parser.add_argument("--org", required=True, help="The org's slug.")
        parser.add_argument("--email", required=True, help="The user's email (also the username).")
        parser.add_argument("--role", required=True, help=f"One of: {', '.join(OrgUserRole.values)}.")
        parser.add_argument("--password", help="Set the user's password (a new user without one cannot log in).")

    def handle(self, *args, **options):
        """Add and print the membership."""
        try:
            orguser = add_org_user(
                org_slug=options["org"], email=options["email"], role=options["role"], password=options["password"]
            )
        except OrgUserError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{orguser.user.email} is {orguser.role} of {orguser.org.slug}")
