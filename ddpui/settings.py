"""Django settings for ddpui. Every value comes from an environment variable (documented in .env.example).

The defaults give a working local setup with no external service: SQLite when DATABASE_URL is unset, the
console email backend, and the offline summarizer when no OPENAI_API_KEY is set.
"""

import math
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    """A string setting from the environment; blank values count as unset."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int) -> int:
    """An integer setting from the environment."""
    return int(env_str(name, str(default)))


def env_float(name: str, default: float) -> float:
    """A float setting from the environment."""
    return float(env_str(name, str(default)))


def env_bool(name: str, default: bool = False) -> bool:
    """A boolean setting: 1/true/yes/on are true."""
    return env_str(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list setting."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: CORS compares origins, and Dalgo's FRONTEND_URL may carry a path or a
    trailing slash (django-cors-headers refuses those at startup)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        raise ImproperlyConfigured(f"not an origin URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


# Changing SECRET_KEY silently drops queued Django-Q2 tasks (they are signed with it): set it once per deployment.
# Without DEBUG the app refuses to start with this default or any short key (ddpui/checks.py).
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "ddpui-insecure-development-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

# ---- HTTPS (production: all true, HSTS a year; `manage.py check --deploy` is then clean, see .env.example) ----
# Off by default because the local set-up (demo, tests) serves plain HTTP on 127.0.0.1.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# TLS ends at the proxy in front of gunicorn: it says which scheme the client used (deploy/nginx.conf sets it).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO") else None

INSTALLED_APPS = [
    "ddpui.admin_apps.ThrottledAdminConfig",  # django.contrib.admin, logins throttled
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "django_q",
    "ddpui",
]

MIDDLEWARE = [
    # First, so that preflight OPTIONS requests are answered before anything else looks at them.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ddpui.urls"
WSGI_APPLICATION = "ddpui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# PostgreSQL through DATABASE_URL (psycopg 3); SQLite when unset. Persistent connections with health checks:
# with CONN_MAX_AGE=0 every enqueue and every broker poll opens a new PostgreSQL connection (3.4x slower).
# No psycopg pool: pooled connections inherited across the qcluster's fork desynchronise the protocol.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# The webhook refuses requests over this size with 413 before parsing them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
WEBHOOK_MAX_BODY_BYTES = 1024 * 1024

# ---- Failed authentication (bearer tokens and the webhook key) ------------------------------------------------
# A client (IP; for admin logins IP and username) that fails this many times within the window gets 429 with
# Retry-After, instead of 401, for its further failures until the window ends. Right credentials always pass.
# Counted in the database, so the limit holds across gunicorn workers and hosts.
AUTH_FAILURE_LIMIT = env_int("AUTH_FAILURE_LIMIT", 20)
AUTH_FAILURE_WINDOW_SECONDS = env_int("AUTH_FAILURE_WINDOW_SECONDS", 60)
# Behind a reverse proxy every request comes from the proxy's address: then trust the last X-Forwarded-For
# entry (the one our proxy appended). Leave off when clients reach gunicorn directly (they could forge it).
AUTH_TRUST_X_FORWARDED_FOR = env_bool("AUTH_TRUST_X_FORWARDED_FOR", False)

# ---- Dalgo's authentication: simplejwt JWTs, in cookies (webapp_v2) or bearer headers (webapp) -----------------
# The same secret as Dalgo's backend, so its tokens are accepted as they are (SIMPLE_JWT is simplejwt's setting).
JWT_SECRET_KEY = env_str("JWT_SECRET_KEY", SECRET_KEY)
JWT_ACCESS_TOKEN_EXPIRY_MINUTES = env_int("JWT_ACCESS_TOKEN_EXPIRY_MINUTES", 30)
JWT_REFRESH_TOKEN_EXPIRY_DAYS = env_int("JWT_REFRESH_TOKEN_EXPIRY_DAYS", 7)
SIMPLE_JWT = {
    "SIGNING_KEY": JWT_SECRET_KEY,
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_TOKEN_EXPIRY_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_TOKEN_EXPIRY_DAYS),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}
# Flags of the access_token / refresh_token cookies set by /api/v2/login/. Secure is off by default for local
# http development: set COOKIE_SECURE=true in production (and COOKIE_SAMESITE=None if the frontend is on
# another site than the API, which browsers only allow with Secure).
COOKIE_HTTPONLY = env_bool("COOKIE_HTTPONLY", True)
COOKIE_SECURE = env_bool("COOKIE_SECURE", False)
COOKIE_SAMESITE = env_str("COOKIE_SAMESITE", "Lax").capitalize()
if COOKIE_SAMESITE not in ("Lax", "Strict", "None"):
    raise ImproperlyConfigured("COOKIE_SAMESITE must be Lax, Strict or None")

# ---- Prefect -----------------------------------------------------------------------------------------------
PREFECT_API_URL = env_str("PREFECT_API_URL", "http://127.0.0.1:4200/api")
# Empty means every webhook request is refused (fail closed).
PREFECT_NOTIFICATIONS_WEBHOOK_KEY = env_str("PREFECT_NOTIFICATIONS_WEBHOOK_KEY")
PREFECT_HTTP_TIMEOUT_SECONDS = env_float("PREFECT_HTTP_TIMEOUT_SECONDS", 15)
# prefect-client retries 408/429/502/503 and timeouts itself (5 times, 2-32 s backoff by default): that could
# hold one handler call for minutes, past the task timeout. Two retries; our own schedules do the rest.
# Applied by ddpui/clients/prefect.py, the one module that configures prefect-client.
PREFECT_CLIENT_MAX_RETRIES = env_int("PREFECT_CLIENT_MAX_RETRIES", 2)
# Logs reach Prefect up to ~1.2 s after the webhook (clients ship them in 2 s batches): they count as complete
# LOG_QUIET_SECONDS after the step ended and once two reads agree, re-read every interval, never longer than max.
LOG_QUIET_SECONDS = env_float("LOG_QUIET_SECONDS", 2.0)
LOG_SETTLE_INTERVAL_SECONDS = env_float("LOG_SETTLE_INTERVAL_SECONDS", 0.5)
LOG_SETTLE_MAX_SECONDS = env_float("LOG_SETTLE_MAX_SECONDS", 8.0)
# A step's log longer than this many records is read as its first records (up to 2,000) and its last ones
# (where a run fails); the rest is counted and named in the excerpt. Bounds the worker's time and memory on
# a million-line log.
SUMMARY_LOG_MAX_RECORDS = max(2, env_int("SUMMARY_LOG_MAX_RECORDS", 20000))

# ---- Airbyte (Config API) ----------------------------------------------------------------------------------
AIRBYTE_SERVER_HOST = env_str("AIRBYTE_SERVER_HOST", "127.0.0.1")
AIRBYTE_SERVER_PORT = env_str("AIRBYTE_SERVER_PORT", "8000")
AIRBYTE_SERVER_APIVER = env_str("AIRBYTE_SERVER_APIVER", "v1")
AIRBYTE_API_TOKEN = env_str("AIRBYTE_API_TOKEN")
AIRBYTE_HTTP_TIMEOUT_SECONDS = env_float("AIRBYTE_HTTP_TIMEOUT_SECONDS", 15)

# ---- LLM (any OpenAI-compatible server) ----------------------------------------------------------------------
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
LLM_TIMEOUT_SECONDS = env_float("LLM_TIMEOUT_SECONDS", 45)
# "json_schema" asks for structured output; servers that reject it are retried with "json_object", then plain.
LLM_RESPONSE_FORMAT = env_str("LLM_RESPONSE_FORMAT", "json_schema")
# The answer's token cap: a summary is ~300 tokens and the schema's bounds allow about 1,000; without a cap a
# small model once generated 3,770 tokens until its context filled. An answer cut at the cap is treated as
# malformed (offline summary, no retry).
LLM_MAX_OUTPUT_TOKENS = env_int("LLM_MAX_OUTPUT_TOKENS", 1200)
SUMMARY_TOKEN_BUDGET = env_int("SUMMARY_TOKEN_BUDGET", 3000)
SUMMARY_MAX_ATTEMPTS = env_int("SUMMARY_MAX_ATTEMPTS", 5)
SUMMARY_RETRY_BASE_SECONDS = env_int("SUMMARY_RETRY_BASE_SECONDS", 60)
SUMMARY_REUSE_DAYS = env_int("SUMMARY_REUSE_DAYS", 14)
# Dalgo's progress entries live 10 minutes and its frontends poll until "completed" or "failed": a summary still
# pending after this long is reported failed ("try again") so no UI spins forever; the row keeps its retries.
SUMMARY_PENDING_EXPIRY_SECONDS = env_int("SUMMARY_PENDING_EXPIRY_SECONDS", 600)
# `regenerate` costs a model call: a summary made less than this long ago is answered as it is.
SUMMARY_REGENERATE_MIN_SECONDS = env_int("SUMMARY_REGENERATE_MIN_SECONDS", 300)
# Regenerates per org in any 24 hours; beyond it the stored summary answers (or 429 when there is none).
# Separate from SUMMARY_MAX_ATTEMPTS: a user's regenerates never use up the automatic path's tries.
SUMMARY_REGENERATE_DAILY_LIMIT = env_int("SUMMARY_REGENERATE_DAILY_LIMIT", 20)
# At most this many LLM calls at once across EVERY qcluster on this database (the provider's rate limits are
# per account, and Dalgo grows by adding cluster hosts). Held as PostgreSQL advisory locks, which PostgreSQL
# frees when a killed worker's connection closes. 0 turns the bound off (each worker may call).
LLM_MAX_CONCURRENCY = env_int("LLM_MAX_CONCURRENCY", 8)
# How long a summary waits for a free slot before it stores the offline summary and retries later (backoff).
LLM_SLOT_WAIT_SECONDS = env_float("LLM_SLOT_WAIT_SECONDS", 60)

# ---- The org's say over its logs, and its LLM budget --------------------------------------------------------
# Dalgo's default: an org's logs go to an LLM only after an org admin opted in (OrgPreferences.llm_optin).
LLM_OPTIN_DEFAULT = env_bool("LLM_OPTIN_DEFAULT", False)
# Opting in regenerates the org's offline summaries of this many recent days with the model.
LLM_OPTIN_UPGRADE_DAYS = env_int("LLM_OPTIN_UPGRADE_DAYS", 7)
# Tokens in + out per org per calendar month (UTC); over it the org gets offline summaries until the month
# ends and its admins are emailed once. 0 means no budget.
LLM_MONTHLY_TOKEN_BUDGET_PER_ORG = env_int("LLM_MONTHLY_TOKEN_BUDGET_PER_ORG", 0)

# ---- Failure notifications (email and Discord) ----------------------------------------------------------------
# The failure message waits for the summary at most this long, then goes out saying where the summary will be.
NOTIFY_WAIT_FOR_SUMMARY_SECONDS = env_float("NOTIFY_WAIT_FOR_SUMMARY_SECONDS", 60)
# A channel that is down is retried with backoff (base, doubling, capped at an hour) up to this many tries.
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8)
NOTIFY_RETRY_BASE_SECONDS = env_float("NOTIFY_RETRY_BASE_SECONDS", 30)
# The summary page's address as the people who get the message reach it (the link in the email).
SUMMARY_PAGE_BASE_URL = env_str("SUMMARY_PAGE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# A Discord webhook URL must start with one of these, so no one can point the server at an internal address.
DISCORD_WEBHOOK_ALLOWED_PREFIXES = env_list("DISCORD_WEBHOOK_ALLOWED_PREFIXES", "https://discord.com/api/webhooks/")
DISCORD_HTTP_TIMEOUT_SECONDS = env_float("DISCORD_HTTP_TIMEOUT_SECONDS", 10)

# ---- Email ---------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds for each SMTP connect/read/write (Django's default is none: an SMTP server that never greets would hold
# the handler until Django-Q's timeout). Well under Q_TIMEOUT_SECONDS.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "dalgo-notifications@localhost")
FRONTEND_URL = env_str("FRONTEND_URL", "http://localhost:3000")
# Dalgo's second frontend (webapp_v2); Dalgo's deployments set both.
FRONTEND_URL_V2 = env_str("FRONTEND_URL_V2")

# ---- CORS (django-cors-headers): Dalgo's frontends call this API from their own origins, with credentials ----
# Allowed: CORS_ALLOWED_ORIGINS (comma list) plus FRONTEND_URL and FRONTEND_URL_V2, reduced to their origins.
CORS_ALLOWED_ORIGINS = list(
    dict.fromkeys(origin_of(url) for url in [*env_list("CORS_ALLOWED_ORIGINS"), FRONTEND_URL, FRONTEND_URL_V2] if url)
)
# The v2 frontend sends the access_token cookie (fetch credentials: 'include') and picks the org in x-dalgo-org.
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_HEADERS = (*default_headers, "x-dalgo-org")

# ---- Django-Q2 (ORM broker on the default database) ----------------------------------------------------------
# The lease (`retry`) starts when the cluster PREFETCHES a task. With queue_limit == workers and
# retry >= (queue_limit / workers + 2) * timeout, a prefetched task is never redelivered while it waits or runs.
Q_WORKERS = env_int("Q_WORKERS", 2)
# A summary task waits for the logs to settle and makes one model call: its timeout follows both, so a slow
# local model (a 1.5B model on CPU took 121 s) is not killed mid-call. 120 s at the default settings.
Q_TIMEOUT_SECONDS = env_int(
    "Q_TIMEOUT_SECONDS", max(120, math.ceil(LLM_TIMEOUT_SECONDS + LOG_SETTLE_MAX_SECONDS + 60))
)
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "ddpui"),
    "orm": "default",
    "workers": Q_WORKERS,
    "queue_limit": Q_WORKERS,
    "timeout": Q_TIMEOUT_SECONDS,
    "retry": 3 * Q_TIMEOUT_SECONDS + 10,
    # A failing task is retried by the broker at most this often; our own state (LlmSession attempts,
    # notification status) and schedules do the retrying with backoff.
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 2),
    "ack_failures": True,
    # Keep every result; a schedule prunes old ones (save_limit > 0 costs a count query per task).
    "save_limit": 0,
    "poll": env_float("Q_POLL_SECONDS", 0.2),
    "catch_up": False,
    "label": "Django-Q2",
    "sync": env_bool("Q_SYNC", False),
}

# ---- Liveness of the cluster (GET /health/, manage.py check_queue, manage.py queue_watchdog) ------------------
# The queue is stalled when a task has waited this long AND no task finished within it. Longer than
# Q_TIMEOUT_SECONDS, so a cluster whose workers all run the longest allowed task never counts as stalled; a
# cluster the watchdog restarted gets this long to boot and take work before it is judged again.
QUEUE_STALL_SECONDS = env_float("QUEUE_STALL_SECONDS", Q_TIMEOUT_SECONDS + 60)
# The watchdog checks this often and restarts the cluster after this many stalled checks in a row: a wedged
# cluster is healed within about QUEUE_STALL_SECONDS + FAILURES x INTERVAL.
QUEUE_WATCHDOG_INTERVAL_SECONDS = env_float("QUEUE_WATCHDOG_INTERVAL_SECONDS", 30)
QUEUE_WATCHDOG_FAILURES = env_int("QUEUE_WATCHDOG_FAILURES", 3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "ddpui.logging_filters.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# ---- Schedules (created idempotently after migrate) -----------------------------------------------------------
# Missed webhooks: failed root runs of our deployments that ended within this window and have no summary.
RECONCILE_LOOKBACK_HOURS = env_int("RECONCILE_LOOKBACK_HOURS", 24)
RECONCILE_EVERY_MINUTES = env_int("RECONCILE_EVERY_MINUTES", 10)
RETRY_SWEEP_EVERY_MINUTES = env_int("RETRY_SWEEP_EVERY_MINUTES", 1)
# Retention: notifications and Django-Q2 task results older than this are pruned daily.
RETENTION_DAYS = env_int("RETENTION_DAYS", 30)
