"""Django admin for operators: orgs, users, data flows, flow runs, Airbyte jobs, notifications and summaries.
(Django-Q2 registers its own task pages: successful, failed, scheduled, queued.)"""

import json

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from ddpui.core.operations.admin_actions import (
    regenerate_summaries,
    resend_deliveries,
    retry_notifications_now,
    task_names_of_run,
)
from ddpui.models import (
    AirbyteJob,
    ApiToken,
    AuthFailureWindow,
    BudgetNotice,
    FailureDelivery,
    LlmSession,
    Notification,
    Org,
    OrgDataFlow,
    OrgPreferences,
    OrgTask,
    OrgUser,
    PrefectFlowRun,
    RevokedToken,
    SummaryFeedback,
    SummaryRegeneration,
    TaskLock,
)


def changelist(model_label: str, **filters: str) -> str:
    """The admin list of a model, filtered by field lookups."""
    query = "&".join(f"{name}={value}" for name, value in filters.items())
    return reverse(f"admin:{model_label}_changelist") + (f"?{query}" if query else "")


def flow_run_link(flow_run_id: str) -> str:
    """A link to the flow run's admin page (by its Prefect id), or the bare id when we never recorded the run."""
    run = PrefectFlowRun.objects.filter(flow_run_id=flow_run_id).only("pk").first()
    if run is None:
        return flow_run_id
    return format_html('<a href="{}">{}</a>', reverse("admin:ddpui_prefectflowrun_change", args=[run.pk]), flow_run_id)


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
    readonly_fields = ("related",)

    @admin.display(description="Its notifications, summaries, failure messages and tasks")
    def related(self, run: PrefectFlowRun) -> str:
        """Links to everything this run caused, as lists filtered to it."""
        names = ",".join(task_names_of_run(run.flow_run_id))
        links = (
            ("Notifications", changelist("ddpui_notification", flow_run_id=run.flow_run_id)),
            ("Summaries", changelist("ddpui_llmsession", flow_run_id=run.flow_run_id)),
            ("Failure messages", changelist("ddpui_failuredelivery", flow_run_id=run.flow_run_id)),
            ("Successful tasks", changelist("django_q_success", name__in=names)),
            ("Failed tasks", changelist("django_q_failure", name__in=names)),
        )
        return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for label, url in links))


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
    readonly_fields = [field.name for field in Notification._meta.fields] + ["flow_run"]
    actions = ["retry_failed_steps_now"]

    @admin.display(description="Flow run")
    def flow_run(self, notification: Notification) -> str:
        """Back to the flow run."""
        return flow_run_link(notification.flow_run_id)

    @admin.action(description="Retry the failed handler steps now")
    def retry_failed_steps_now(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        """Queue the handler again for the chosen notifications that are not handled."""
        self.message_user(request, f"queued {retry_notifications_now(queryset)} notification(s)")


class FeedbackFilter(admin.SimpleListFilter):
    """Summaries by what their readers said."""

    title = "feedback"
    parameter_name = "feedback"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """The choices."""
        return [("unhelpful", "Someone found it not helpful"), ("helpful", "Someone found it helpful"),
                ("none", "No feedback")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[LlmSession]) -> QuerySet[LlmSession]:
        """Filter on the annotated counts."""
        if self.value() == "unhelpful":
            return queryset.filter(not_helpful_total__gt=0)
        if self.value() == "helpful":
            return queryset.filter(helpful_total__gt=0)
        if self.value() == "none":
            return queryset.filter(helpful_total=0, not_helpful_total=0)
        return queryset


@admin.register(LlmSession)
class LlmSessionAdmin(admin.ModelAdmin):
    """Failure summaries, readable: failed step, title, summary, fix steps, evidence."""

    list_display = (
        "created_at", "org", "flow_run_id", "step_label", "status", "category", "provider", "grounded", "title",
        "helpful_count", "not_helpful_count",
    )
    list_filter = ("status", FeedbackFilter, "category", "provider", "grounded", "trigger", "org")
    search_fields = ("flow_run_id", "title", "fingerprint", "public_id")
    readonly_fields = ("failed_step_readable", "fix_steps_readable", "evidence_readable", "timings", "flow_run",
                       "feedback_readable", "offline_reason")
    actions = ["regenerate"]
    fieldsets = (
        (None, {"fields": ("org", "flow_run", "status", "last_error", "attempts", "next_attempt_at")}),
        ("Asked and made", {"fields": ("trigger", "requested_at", "ready_at", "regenerating_since")}),
        ("Feedback", {"fields": ("feedback_readable",)}),
        ("Failed step", {"fields": ("failed_step_readable", "node_ids")}),
        ("Summary", {"fields": ("title", "summary", "root_cause", "category", "model_category", "is_transient",
                                "confidence", "grounded")}),
        ("Fix", {"fields": ("fix_steps_readable",)}),
        ("Evidence", {"fields": ("evidence_readable", "excerpt")}),
        ("How it was made", {"fields": ("provider", "offline_reason", "model", "prompt_version", "tokens_in", "tokens_out",
                                        "latency_ms", "fingerprint", "reused_from", "timings")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[LlmSession]:
        """Summaries with their feedback counts, so the list sorts and filters by feedback."""
        return super().get_queryset(request).annotate(
            helpful_total=Count("feedbacks", filter=Q(feedbacks__helpful=True)),
            not_helpful_total=Count("feedbacks", filter=Q(feedbacks__helpful=False)),
        )

    @admin.display(description="Helpful", ordering="helpful_total")
    def helpful_count(self, session: LlmSession) -> int:
        """How many readers said it helped."""
        return session.helpful_total

    @admin.display(description="Not helpful", ordering="not_helpful_total")
    def not_helpful_count(self, session: LlmSession) -> int:
        """How many readers said it did not."""
        return session.not_helpful_total

    @admin.display(description="Flow run")
    def flow_run(self, session: LlmSession) -> str:
        """Back to the flow run."""
        return flow_run_link(session.flow_run_id)

    @admin.display(description="Feedback")
    def feedback_readable(self, session: LlmSession) -> str:
        """Each reader's verdict and comment."""
        rows = ((("helpful" if f.helpful else "not helpful"), f.orguser, f.comment) for f in session.feedbacks.all())
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} ({}): {}</li>", rows))

    @admin.action(description="Regenerate the summary")
    def regenerate(self, request: HttpRequest, queryset: QuerySet[LlmSession]) -> None:
        """Queue the chosen summaries' regeneration."""
        self.message_user(request, f"queued {regenerate_summaries(queryset)} regeneration(s)")

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


@admin.register(FailureDelivery)
class FailureDeliveryAdmin(admin.ModelAdmin):
    """Failure messages per channel: sent, waiting for the summary, retrying, failed; what was sent."""

    list_display = ("created_at", "org", "flow_run_name", "channel", "status", "attempts", "sent_at", "with_summary")
    list_filter = ("status", "channel", "org")
    search_fields = ("flow_run_id", "flow_run_name", "subject")
    readonly_fields = [field.name for field in FailureDelivery._meta.fields] + ["flow_run"]
    actions = ["send_again"]

    @admin.display(description="With summary", boolean=True)
    def with_summary(self, delivery: FailureDelivery) -> bool:
        """Whether the message carried the summary."""
        return delivery.summary_id is not None

    @admin.display(description="Flow run")
    def flow_run(self, delivery: FailureDelivery) -> str:
        """Back to the flow run."""
        return flow_run_link(delivery.flow_run_id)

    @admin.action(description="Send the failure message again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[FailureDelivery]) -> None:
        """Queue the chosen messages again."""
        self.message_user(request, f"queued {resend_deliveries(queryset)} message(s)")


@admin.register(OrgPreferences)
class OrgPreferencesAdmin(admin.ModelAdmin):
    """Each org's LLM opt-in and Discord setting (the webhook URL is a credential: not listed)."""

    list_display = ("org", "llm_optin", "llm_optin_approved_by", "llm_optin_date", "enable_discord_notifications")
    list_filter = ("llm_optin", "enable_discord_notifications")
    exclude = ("discord_webhook",)


@admin.register(SummaryFeedback)
class SummaryFeedbackAdmin(admin.ModelAdmin):
    """What readers said about summaries."""

    list_display = ("updated_at", "session", "orguser", "helpful", "comment")
    list_filter = ("helpful",)


@admin.register(BudgetNotice)
class BudgetNoticeAdmin(admin.ModelAdmin):
    """Orgs told they went over their monthly LLM budget."""

    list_display = ("org", "month", "tokens_used", "sent_at")
