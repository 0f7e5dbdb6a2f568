"""manage.py create_org: an org, a manager user and an API token (printed once)."""

from django.core.management.base import BaseCommand, CommandError

from ddpui.core.auth.orgs import create_org_with_manager


class Command(BaseCommand):
    """Create an org with a manager and print a new API token."""

    help = "Create an org, a manager user and an API token; prints the token (it is stored hashed)."

    def add_arguments(self, parser):
        """--name, --email, optional --slug."""
        parser.add_argument("--name", required=True, help="The org's display name.")
        parser.add_argument("--email", required=True, help="The manager's email (also the username).")
        parser.add_argument("--slug", help="The org slug Prefect deployments use (default: from the name).")

    def handle(self, *args, **options):
        """Create and print."""
        org, orguser, token = create_org_with_manager(name=options["name"], email=options["email"], slug=options["slug"])
        if orguser.org_id != org.id:
            raise CommandError(f"{options['email']} already belongs to org {orguser.org.slug}")
        self.stdout.write(f"org: {org.slug}\nmanager: {orguser.user.email}\ntoken: {token}")
