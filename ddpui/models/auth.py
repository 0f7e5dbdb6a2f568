"""Failed authentication attempts, counted per client in fixed windows, so brute force is rate-limited
across every gunicorn worker (and every host) that shares the database."""

from django.db import models


class AuthFailureWindow(models.Model):
    """How many times one client failed to authenticate to one scope since `window_started_at`.

    One row per (scope, client): a failure after the window has passed restarts the count at 1.
    """

    scope = models.CharField(max_length=20, help_text="api (bearer tokens) or webhook (X-Notification-Key).")
    client = models.CharField(max_length=64, help_text="The client's IP address.")
    failures = models.IntegerField(default=0)
    window_started_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "client"], name="uniq_authfailure_scope_client")]

    def __str__(self) -> str:
        return f"{self.scope} {self.client}: {self.failures} since {self.window_started_at:%H:%M:%S}"
