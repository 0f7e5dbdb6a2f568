"""Failed authentication attempts, counted per client in fixed windows, so brute force is rate-limited
across every gunicorn worker (and every host) that shares the database; and JWTs ended by a logout."""

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


class RevokedToken(models.Model):
    """A JWT (access or refresh) that a logout ended before its expiry: refused from then on by every worker.

    Only the token's `jti` is kept, never the token: simplejwt's own blacklist app stores every refresh token in
    clear (OutstandingToken.token), which this project does not allow. Rows are pruned once `expires_at` has
    passed (the token is refused by its own `exp` from then on).
    """

    jti = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.jti} (until {self.expires_at:%Y-%m-%d %H:%M})"
