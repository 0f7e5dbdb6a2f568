"""Airbyte jobs synced from Airbyte's Config API (Dalgo's AirbyteJob shape)."""

from django.db import models


class AirbyteJob(models.Model):
    """One Airbyte job of a connection; `attempts` holds Airbyte's raw attempt objects."""

    job_id = models.BigIntegerField(primary_key=True)
    job_type = models.CharField(max_length=32)
    config_id = models.CharField(max_length=64, db_index=True, help_text="The Airbyte connection id.")
    status = models.CharField(max_length=20)
    reset_config = models.JSONField(null=True, blank=True)
    refresh_config = models.JSONField(null=True, blank=True)
    stream_stats = models.JSONField(null=True, blank=True)
    records_emitted = models.BigIntegerField(default=0)
    bytes_emitted = models.BigIntegerField(default=0)
    records_committed = models.BigIntegerField(default=0)
    bytes_committed = models.BigIntegerField(default=0)
    attempts = models.JSONField(default=list)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    synced_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"job {self.job_id} {self.status}"
