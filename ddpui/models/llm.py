"""Stored failure summaries (Dalgo's LlmSession, plus the structured summary users read)."""

import uuid

from django.db import models
from django.utils import timezone

from ddpui.models.vocabulary import SummaryTrigger
from ddpui.models.work import RetriedWork


class SummaryStatus(models.TextChoices):
    """Our lifecycle of a summary; Dalgo's `session_status` is derived from it."""

    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


# Dalgo's frontends read session_status: running / completed / failed.
SESSION_STATUS_BY_STATUS = {
    SummaryStatus.PENDING: "running",
    SummaryStatus.READY: "completed",
    SummaryStatus.FAILED: "failed",
}


class StructuredSummary(models.Model):
    """The structured summary and how it was made: the ONE list of these fields.

    SummaryResult (what summarize_logs returns), the fields a summary stores or copies on reuse, and the read
    API's answer and its builder all take their field names from here (STRUCTURED_SUMMARY_FIELDS).
    """

    # What users read.
    title = models.CharField(max_length=300, blank=True, default="")
    summary = models.TextField(blank=True, default="")
    root_cause = models.TextField(blank=True, default="")
    category = models.CharField(max_length=32, blank=True, default="")
    fix_steps = models.JSONField(default=list, blank=True)
    evidence = models.JSONField(default=list, blank=True, help_text="Redacted [{line, text}] excerpts.")
    is_transient = models.BooleanField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    grounded = models.BooleanField(
        null=True,
        blank=True,
        help_text="Model summaries: every quoted line was found in the excerpt and a top root-cause line was among "
        "them. Empty for offline summaries.",
    )
    model_category = models.CharField(
        max_length=32,
        blank=True,
        default="",
        help_text="The model's category when the offline rules clearly disagreed and theirs was stored instead.",
    )

    # How it was made.
    provider = models.CharField(max_length=32, blank=True, default="")
    model = models.CharField(max_length=100, blank=True, default="")
    prompt_version = models.CharField(max_length=20, blank=True, default="")
    tokens_in = models.IntegerField(null=True, blank=True)
    tokens_out = models.IntegerField(null=True, blank=True)
    latency_ms = models.IntegerField(null=True, blank=True)

    class Meta:
        abstract = True


# Every field of a structured summary, in declaration order.
STRUCTURED_SUMMARY_FIELDS = tuple(field.name for field in StructuredSummary._meta.fields)


class LlmSession(RetriedWork, StructuredSummary):
    """The summary of one failed step of one flow run (or of one Airbyte job attempt asked for on demand).

    Unique per (org, flow_run_id, step_key): duplicate notifications and concurrent workers cannot make two.
    A worker claims the row by a conditional UPDATE on `lease_until`, so a dead worker's claim simply expires.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, help_text="The task_id Dalgo's UI polls.")
    org = models.ForeignKey("ddpui.Org", on_delete=models.CASCADE, related_name="llm_sessions")
    orguser = models.ForeignKey("ddpui.OrgUser", null=True, blank=True, on_delete=models.SET_NULL)
    flow_run_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    step_key = models.CharField(max_length=200, help_text="Which step: task run, subflow, Airbyte job, or flow.")
    task_id = models.CharField(max_length=64, null=True, blank=True, help_text="Prefect task or subflow run id.")
    node_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="Prefect ids of the failed path: each subflow run and its placeholder task run between the root "
        "run and the failed task run, and that task run. Any of them, clicked in the run's graph, finds this row.",
    )
    airbyte_job_id = models.BigIntegerField(null=True, blank=True)
    attempt_number = models.IntegerField(null=True, blank=True)
    session_type = models.CharField(max_length=40, default="log_summarization")
    trigger = models.CharField(max_length=20, choices=SummaryTrigger.choices, default=SummaryTrigger.FAILURE)
    # Derived by the database from `status` so no write path (save, .update(), bulk) can leave it stale.
    session_status = models.GeneratedField(
        expression=models.Case(
            *(
                models.When(status=status, then=models.Value(session))
                for status, session in SESSION_STATUS_BY_STATUS.items()
            ),
            default=models.Value("running"),
            output_field=models.CharField(max_length=20),
        ),
        output_field=models.CharField(max_length=20),
        db_persist=True,
    )
    status = models.CharField(max_length=20, choices=SummaryStatus.choices, default=SummaryStatus.PENDING)

    failed_step = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True, default="", db_index=True)
    reused_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    offline_reason = models.CharField(
        max_length=200, blank=True, default="", help_text="Why no model was asked (not opted in, over budget, ...)."
    )
    excerpt = models.TextField(blank=True, default="", help_text="The redacted excerpt sent to the model.")
    timings = models.JSONField(default=dict, blank=True, help_text="Stage -> milliseconds.")

    # Dalgo's conversation fields.
    response = models.JSONField(default=list, blank=True, help_text='[{"prompt": ..., "response": ...}]')
    user_prompts = models.JSONField(default=list, blank=True)
    assistant_prompt = models.TextField(blank=True, default="")
    feedback = models.TextField(null=True, blank=True)

    # Work state.
    requested_at = models.DateTimeField(
        default=timezone.now, help_text="When the summary was last asked for: a pending row expires from here."
    )
    ready_at = models.DateTimeField(null=True, blank=True, help_text="When the summary shown was made.")
    regenerating_since = models.DateTimeField(
        null=True, blank=True, help_text="A regenerate is under way; the summary shown stays until it succeeds."
    )
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "flow_run_id", "step_key"], name="uniq_llmsession_org_run_step")
        ]
        indexes = [models.Index(fields=["org", "-created_at"], name="llmsession_org_recent")]

    def save(self, *args, **kwargs):
        """Forget the loaded session_status: the database derives it from status, and the next read loads it."""
        super().save(*args, **kwargs)
        self.__dict__.pop("session_status", None)

    def __str__(self) -> str:
        return f"{self.flow_run_id or self.airbyte_job_id} {self.step_key} ({self.status})"


class SummaryRegeneration(models.Model):
    """One regenerate a user asked for: counted against the org's daily cap (regenerates cost a model call)."""

    org = models.ForeignKey("ddpui.Org", on_delete=models.CASCADE, related_name="summary_regenerations")
    session = models.ForeignKey(LlmSession, on_delete=models.CASCADE, related_name="regenerations")
    orguser = models.ForeignKey("ddpui.OrgUser", null=True, blank=True, on_delete=models.SET_NULL)
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["org", "requested_at"], name="regeneration_org_recent")]

    def __str__(self) -> str:
        return f"regenerate {self.session_id} ({self.requested_at:%Y-%m-%d %H:%M})"
