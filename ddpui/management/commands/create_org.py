"""manage.py create_org: an org, its first user (super-admin) and an API token (printed once)."""

from django.core.management.base import BaseCommand

from ddpui.core.auth.orgs import create_org_with_admin


class Command(BaseCommand):
    """Create an org with its super-admin and print a new API token."""

    help = (
        "Create an org and its first user as super-admin (an existing user joins it, keeping their other orgs), "
        "and an API token; prints the token (it is stored hashed)."
    )

    def add_arguments(self, parser):
        """--name, --email, optional --slug and --password."""
        parser.add_argument("--name", required=True, help="The org's display name.")
        parser.add_argument("--email", required=True, help="The admin's email (also the username).")
        parser.add_argument("--slug", help="The org slug Prefect deployments use (default: from the name).")
        parser.add_argument("--password", help="The user's password for /api/login/ (default: none; set it later).")

    def handle(self, *args, **options):
        """Create and print."""
        org, orguser, token = create_org_with_admin(
            name=options["name"], email=options["email"], slug=options["slug"], password=options["password"]
        )
        self.stdout.write(f"org: {org.slug}\nmanager: {orguser.user.email} ({orguser.role})\ntoken: {token}")
