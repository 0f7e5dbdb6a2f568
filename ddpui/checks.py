"""Start-up refusals: settings the app must not run with in production.

The SECRET_KEY signs sessions, CSRF tokens and every queued Django-Q2 task: with the default (public, in this
repository) or a short key, anyone could forge them. Without DEBUG the app refuses to start: gunicorn's workers
fail to boot (ddpui/wsgi.py) and every management command that runs Django's checks (qcluster, migrate, check)
stops with this error.
"""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

INSECURE_SECRET_KEY = "ddpui-insecure-development-key-change-me"
# The same bar as Django's own deploy check (security.W009): long and not repetitive.
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
KNOWN_PLACEHOLDERS = {INSECURE_SECRET_KEY, "change-me", "changeme", "secret"}


def secret_key_problem() -> str | None:
    """Why SECRET_KEY must not be used without DEBUG, or None when it is fine (or DEBUG is on)."""
    key = settings.SECRET_KEY or ""
    if settings.DEBUG:
        return None
    if key in KNOWN_PLACEHOLDERS or key.startswith("django-insecure"):
        return "DJANGO_SECRET_KEY is unset or a known placeholder"
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        return f"DJANGO_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters or repetitive"
    return None


def refuse_insecure_settings() -> None:
    """Raise ImproperlyConfigured when the app must not start (called by ddpui/wsgi.py)."""
    problem = secret_key_problem()
    if problem:
        raise ImproperlyConfigured(f"{problem}: set a random one (see .env.example), or DJANGO_DEBUG=true locally")


@register()
def check_secret_key(app_configs, **kwargs) -> list[Error]:
    """Django system check: the same refusal for management commands."""
    problem = secret_key_problem()
    if problem is None:
        return []
    return [Error(problem, hint="Set a random DJANGO_SECRET_KEY (see .env.example), or DJANGO_DEBUG=true locally.",
                  id="ddpui.E001")]
