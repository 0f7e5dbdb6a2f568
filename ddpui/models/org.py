"""Organisations, their users and API tokens, their data flows (Prefect deployments) and tasks."""

import uuid

from django.conf import settings
from django.db import models


class Org(models.Model):
    """An NGO using Dalgo. Prefect deployments name it in `parameters.config.org_slug`."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug


class OrgUserRole(models.TextChoices):
    """Dalgo's roles; what each may do is ddpui.core.auth.permissions.ROLE_PERMISSIONS. Managers get failure emails."""

    SUPER_ADMIN = "super-admin", "Super admin"
    ADMIN = "admin", "Admin"
    ANALYST = "analyst", "Analyst"
    MEMBER = "member", "Member"


MANAGER_ROLES = (OrgUserRole.SUPER_ADMIN, OrgUserRole.ADMIN)


class OrgUser(models.Model):
    """A Django user's membership of one org, with its role there. A user may belong to several orgs (one row
    each); requests choose among them with the `x-dalgo-org` header."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orgusers")
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="orgusers")
    role = models.CharField(max_length=32, choices=OrgUserRole.choices, default=OrgUserRole.ANALYST)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "org"], name="uniq_orguser_user_org")]

    @property
    def is_manager(self) -> bool:
        """Managers are told about failures by email."""
        return self.role in MANAGER_ROLES

    def __str__(self) -> str:
        return f"{self.user.email or self.user.username} ({self.org.slug})"


class ApiToken(models.Model):
    """A bearer token for the read API. Only its SHA-256 is stored; the clear token is shown once at creation."""

    orguser = models.ForeignKey(OrgUser, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The first characters of the token, to recognise it.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.orguser})"


class DataflowType(models.TextChoices):
    """Dalgo's two kinds of deployment."""

    ORCHESTRATE = "orchestrate", "Orchestrated pipeline"
    MANUAL = "manual", "Manual sync"


class OrgDataFlow(models.Model):
    """A Prefect deployment that runs an org's pipeline."""

    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="dataflows")
    name = models.CharField(max_length=200)
    deployment_name = models.CharField(max_length=200, blank=True, default="")
    deployment_id = models.CharField(max_length=64, unique=True)
    cron = models.CharField(max_length=100, blank=True, default="")
    dataflow_type = models.CharField(max_length=20, choices=DataflowType.choices, default=DataflowType.ORCHESTRATE)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.org.slug})"


class OrgTask(models.Model):
    """One task of an org (an Airbyte sync of a connection, a dbt command, ...), referenced by deployments."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="orgtasks")
    task_slug = models.CharField(max_length=50)
    connection_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    dataflows = models.ManyToManyField(OrgDataFlow, blank=True, related_name="orgtasks")

    def __str__(self) -> str:
        return f"{self.task_slug} {self.connection_id or ''} ({self.org.slug})".replace("  ", " ")


class TaskLock(models.Model):
    """Held by a flow run while it runs an org task, so the task cannot be started twice at once."""

    orgtask = models.OneToOneField(OrgTask, on_delete=models.CASCADE, related_name="lock")
    flow_run_id = models.CharField(max_length=64, db_index=True)
    locked_by = models.ForeignKey(OrgUser, null=True, blank=True, on_delete=models.SET_NULL)
    locked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.orgtask} locked by run {self.flow_run_id}"


class OrgPreferences(models.Model):
    """Dalgo's per-org preferences: whether its logs may go to an LLM (approved by an org admin), and whether its
    failures are also told on a Discord webhook. Created with each org (LLM_OPTIN_DEFAULT)."""

    org = models.OneToOneField(Org, on_delete=models.CASCADE, related_name="preferences")
    llm_optin = models.BooleanField(default=False)
    llm_optin_approved_by = models.ForeignKey(
        OrgUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="approved_llm_optins"
    )
    llm_optin_date = models.DateTimeField(null=True, blank=True)
    enable_discord_notifications = models.BooleanField(default=False)
    discord_webhook = models.URLField(max_length=500, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "org preferences"

    def __str__(self) -> str:
        return f"{self.org.slug}: llm_optin={self.llm_optin}"
