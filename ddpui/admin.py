"""Django admin for operators: orgs, users, data flows, flow runs, Airbyte jobs, notifications and summaries.
(Django-Q2 registers its own task pages: successful, failed, scheduled, queued.)"""

import json

from django.contrib import admin
from django.db.models import Count, Q
from django.utils.html import format_html, format_html_join

from ddpui.models import (
    AirbyteJob,
    ApiToken,
    AuthFailureWindow,
    LlmSession,
    Notification,
    Org,
    OrgDataFlow,
    OrgTask,
    OrgUser,
    PrefectFlowRun,
    RevokedToken,
    SummaryRegeneration,
    TaskLock,
)


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    """Orgs by slug."""

    list_display = ("slug", "name", "created_at")
    search_fields = ("slug", "name")


@admin.register(OrgUser)
class OrgUserAdmin(admin.ModelAdmin):
    """Memberships: a user's role in one org (a user may have several)."""

    list_display = ("user", "org", "role", "created_at")
    autocomplete_fields = ("user",)
    list_filter = ("role", "org")
    search_fields = ("user__username", "user__email", "org__slug")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: only the prefix is shown; the token itself is never stored."""

    list_display = ("prefix", "orguser", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("token_hash", "prefix", "created_at", "last_used_at")


@admin.register(RevokedToken)
class RevokedTokenAdmin(admin.ModelAdmin):
    """JWTs ended by a logout (only their ids; pruned once expired)."""

    list_display = ("jti", "expires_at", "revoked_at")
    readonly_fields = ("jti", "expires_at", "revoked_at")


@admin.register(OrgDataFlow)
class OrgDataFlowAdmin(admin.ModelAdmin):
    """Deployments per org."""

    list_display = ("name", "org", "dataflow_type", "deployment_id")
    list_filter = ("dataflow_type", "org")
    search_fields = ("name", "deployment_id")


@admin.register(OrgTask)
class OrgTaskAdmin(admin.ModelAdmin):
    """Org tasks (syncs and transforms)."""

    list_display = ("task_slug", "org", "connection_id", "uuid")
    list_filter = ("task_slug", "org")
    search_fields = ("connection_id", "uuid")


@admin.register(TaskLock)
class TaskLockAdmin(admin.ModelAdmin):
    """Locks held by running flow runs."""

    list_display = ("orgtask", "flow_run_id", "locked_at")


@admin.register(PrefectFlowRun)
class PrefectFlowRunAdmin(admin.ModelAdmin):
    """Flow runs as recorded from the webhook."""

    list_display = ("name", "state_name", "status", "deployment_id", "start_time", "end_time")
    list_filter = ("state_name", "status")
    search_fields = ("flow_run_id", "name", "deployment_id")


@admin.register(AirbyteJob)
class AirbyteJobAdmin(admin.ModelAdmin):
    """Airbyte jobs synced from Airbyte."""

    list_display = ("job_id", "job_type", "config_id", "status", "created_at", "records_committed")
    list_filter = ("status", "job_type")
    search_fields = ("job_id", "config_id")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Every webhook delivery and how its handling went."""

    list_display = ("received_at", "flow_run_name", "state_name", "body_format", "status", "attempts")
    list_filter = ("status", "state_name", "body_format")
    search_fields = ("flow_run_id", "flow_run_name", "event_id")
    readonly_fields = [field.name for field in Notification._meta.fields]


@admin.register(LlmSession)
class LlmSessionAdmin(admin.ModelAdmin):
    """Failure summaries, readable: failed step, title, summary, fix steps, evidence."""

    list_display = (
        "created_at", "org", "flow_run_id", "step_label", "status", "category", "provider", "grounded", "title"
    )
    list_filter = ("status", "category", "provider", "grounded", "trigger", "org")
    search_fields = ("flow_run_id", "title", "fingerprint", "public_id")
    readonly_fields = ("failed_step_readable", "fix_steps_readable", "evidence_readable", "timings")
    fieldsets = (
        (None, {"fields": ("org", "flow_run_id", "status", "last_error", "attempts", "next_attempt_at")}),
        ("Asked and made", {"fields": ("trigger", "requested_at", "ready_at", "regenerating_since")}),
        ("Failed step", {"fields": ("failed_step_readable", "node_ids")}),
        ("Summary", {"fields": ("title", "summary", "root_cause", "category", "model_category", "is_transient",
                                "confidence", "grounded")}),
        ("Fix", {"fields": ("fix_steps_readable",)}),
        ("Evidence", {"fields": ("evidence_readable", "excerpt")}),
        ("How it was made", {"fields": ("provider", "model", "prompt_version", "tokens_in", "tokens_out",
                                        "latency_ms", "fingerprint", "reused_from", "timings")}),
    )

    def changelist_view(self, request, extra_context=None):
        """The list, headed by how many model summaries were grounded (of those the filters select)."""
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            counts = changelist.queryset.filter(grounded__isnull=False).aggregate(
                grounded_count=Count("pk", filter=Q(grounded=True)),
                not_grounded_count=Count("pk", filter=Q(grounded=False)),
                disputed_count=Count("pk", filter=~Q(model_category="")),
            )
            response.context_data["grounding_counts"] = counts
        return response

    @admin.display(description="Step")
    def step_label(self, session: LlmSession) -> str:
        """The failed step's Dalgo task or label."""
        step = session.failed_step or {}
        return str(step.get("task_slug") or step.get("label") or "")

    @admin.display(description="Failed step")
    def failed_step_readable(self, session: LlmSession) -> str:
        """The failed step as indented JSON."""
        return format_html("<pre>{}</pre>", json.dumps(session.failed_step, indent=2))

    @admin.display(description="Fix steps")
    def fix_steps_readable(self, session: LlmSession) -> str:
        """The fix steps as an ordered list."""
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((s,) for s in session.fix_steps)))

    @admin.display(description="Evidence")
    def evidence_readable(self, session: LlmSession) -> str:
        """The evidence lines with their line numbers."""
        rows = ((item.get("line"), item.get("text")) for item in session.evidence or [])
        return format_html("<pre>{}</pre>", format_html_join("\n", "{:>6} | {}", rows))


@admin.register(AuthFailureWindow)
class AuthFailureWindowAdmin(admin.ModelAdmin):
    """Failed-authentication counters: who failed how often (the alert's record); read-only."""

    list_display = ("scope", "client", "failures", "window_started_at")
    list_filter = ("scope",)
    ordering = ("-failures",)
    readonly_fields = ("scope", "client", "failures", "window_started_at")


@admin.register(SummaryRegeneration)
class SummaryRegenerationAdmin(admin.ModelAdmin):
    """Users' regenerates: what counts against each org's daily cap."""

    list_display = ("requested_at", "org", "session", "orguser")
    list_filter = ("org",)
    date_hierarchy = "requested_at"
