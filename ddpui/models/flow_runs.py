"""Prefect flow runs as Dalgo records them, and every webhook notification we received."""

from django.db import models

from ddpui.models.work import RetriedWork


class PrefectFlowRun(models.Model):
    """Dalgo's record of a deployment's flow run, upserted on each state change."""

    deployment_id = models.CharField(max_length=64, db_index=True)
    flow_run_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    expected_start_time = models.DateTimeField(null=True, blank=True)
    total_run_time = models.FloatField(default=0)
    status = models.CharField(max_length=20, help_text="Prefect state type: COMPLETED, FAILED, CRASHED, ...")
    state_name = models.CharField(max_length=64)
    retries = models.IntegerField(default=0)
    orguser = models.ForeignKey("ddpui.OrgUser", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} {self.state_name}"


class NotificationStatus(models.TextChoices):
    """Where a received notification is in its handling."""

    RECEIVED = "received", "Received"
    HANDLED = "handled", "Handled"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"


class Notification(RetriedWork):
    """One webhook delivery from Prefect, recorded before we answer: the only durable trace of it.

    `dedupe_key` makes a repeated delivery (same event id, else same flow run + state) a no-op.
    """

    dedupe_key = models.CharField(max_length=200, unique=True)
    event_id = models.CharField(max_length=64, null=True, blank=True)
    flow_run_id = models.CharField(max_length=64, db_index=True)
    flow_run_name = models.CharField(max_length=255, blank=True, default="")
    state_name = models.CharField(max_length=64)
    state_type = models.CharField(max_length=20, blank=True, default="")
    parent_task_run_id = models.CharField(max_length=64, null=True, blank=True)
    body_format = models.CharField(max_length=20, help_text="text, flow_run_json or automation_json")
    payload = models.JSONField(default=dict, help_text="The body received, with secrets redacted.")
    status = models.CharField(max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.RECEIVED)
    steps_done = models.JSONField(default=list, blank=True, help_text="Handler steps that completed.")
    step_errors = models.JSONField(default=dict, blank=True, help_text="Handler step -> last error.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.flow_run_id} {self.state_name} ({self.status})"
