"""What the people of an org are told: failure deliveries per channel, feedback on summaries, budget notices."""

from django.db import models

from ddpui.models.work import RetriedWork


class Channel(models.TextChoices):
    """Where a failure is told."""

    EMAIL = "email", "Email"
    DISCORD = "discord", "Discord"


class DeliveryStatus(models.TextChoices):
    """A delivery waits for the summary (bounded), is sent, is retried with backoff, or failed for good."""

    WAITING = "waiting", "Waiting for the summary"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class FailureDelivery(RetriedWork):
    """One failure told on one channel: the unique key makes retries, duplicate notifications and both delivery
    styles of one failure a single message per channel. Counted sent only once the send returned."""

    org = models.ForeignKey("ddpui.Org", on_delete=models.CASCADE, related_name="failure_deliveries")
    flow_run_id = models.CharField(max_length=64, db_index=True)
    flow_run_name = models.CharField(max_length=255, blank=True, default="")
    pipeline_name = models.CharField(max_length=255, blank=True, default="")
    state_name = models.CharField(max_length=64)
    state_message = models.TextField(blank=True, default="", help_text="Redacted.")
    run_count = models.IntegerField(default=1)
    end_time = models.DateTimeField(null=True, blank=True, help_text="When the run ended (Prefect).")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.WAITING)
    wait_until = models.DateTimeField(help_text="Sent without the summary after this.")
    summary = models.ForeignKey("ddpui.LlmSession", null=True, blank=True, on_delete=models.SET_NULL)
    recipients = models.IntegerField(default=0)
    subject = models.CharField(max_length=300, blank=True, default="")
    text = models.TextField(blank=True, default="", help_text="The text sent (redacted).")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["flow_run_id", "state_name", "run_count", "channel"], name="uniq_failure_delivery"
            )
        ]
        verbose_name_plural = "failure deliveries"

    def __str__(self) -> str:
        return f"{self.channel} {self.flow_run_id} {self.state_name} ({self.status})"


class SummaryFeedback(models.Model):
    """A user's "was this helpful?" on a summary: one per user and summary, editable."""

    session = models.ForeignKey("ddpui.LlmSession", on_delete=models.CASCADE, related_name="feedbacks")
    orguser = models.ForeignKey("ddpui.OrgUser", on_delete=models.CASCADE, related_name="summary_feedbacks")
    helpful = models.BooleanField()
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "orguser"], name="uniq_feedback_per_user")]

    def __str__(self) -> str:
        return f"{'helpful' if self.helpful else 'not helpful'} ({self.orguser})"


class BudgetNotice(models.Model):
    """The org's admins were told it went over its monthly LLM token budget: once per org and month."""

    org = models.ForeignKey("ddpui.Org", on_delete=models.CASCADE, related_name="budget_notices")
    month = models.CharField(max_length=7, help_text="YYYY-MM")
    tokens_used = models.BigIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "month"], name="uniq_budget_notice")]

    def __str__(self) -> str:
        return f"{self.org} {self.month}"
