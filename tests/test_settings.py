"""Production settings of the queue and the database (docs/django-q2.md), Dalgo's JWT and cookie
settings, and CORS for Dalgo's frontends."""

import os
import subprocess
import sys
import time

import jwt
from django.conf import settings

from harness import REPO_ROOT


def test_orm_broker_on_the_default_database_with_a_safe_lease():
    q = settings.Q_CLUSTER
    assert q["orm"] == "default"
    assert q["queue_limit"] == q["workers"], "prefetch no more than the workers can start"
    # The lease starts at prefetch: it must outlast waiting in the prefetch queue and running.
    assert q["retry"] >= (q["queue_limit"] / q["workers"] + 2) * q["timeout"]
    assert 0 < q["max_attempts"] <= 5, "failed tasks are not redelivered forever"
    assert not q["sync"]


def test_persistent_database_connections_with_health_checks():
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] >= 60 and database["CONN_HEALTH_CHECKS"] is True
    assert "pool" not in database.get("OPTIONS", {}), "pooled connections break across the cluster's fork"


def test_email_defaults_to_the_console_and_the_webhook_fails_closed_by_default():
    assert settings.EMAIL_BACKEND.endswith("console.EmailBackend") or settings.EMAIL_BACKEND.endswith("locmem.EmailBackend")
    assert settings.WEBHOOK_MAX_BODY_BYTES == 1024 * 1024


# ---- Dalgo's authentication and CORS ------------------------------------------------------------------------

PREFLIGHT = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
             "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "x-dalgo-org, content-type"}
PROGRESS_URL = "/api/tasks/stp/5f0c6a52-7a8b-4d38-9b7e-3c1d1a0e9a11"


def settings_in_subprocess(env: dict[str, str], expression: str) -> str:
    """Evaluate an expression on ddpui.settings loaded from this environment (settings are read at import)."""
    code = f"import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'ddpui.settings'; django.setup(); " \
           f"from django.conf import settings; print({expression})"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_cors_origins_come_from_the_list_and_dalgos_two_frontend_urls():
    origins = settings_in_subprocess(
        {"CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example:8443",
         "FRONTEND_URL": "https://dashboard.dalgo.example/", "FRONTEND_URL_V2": "https://app.dalgo.example/login"},
        "settings.CORS_ALLOWED_ORIGINS",
    )
    assert origins == str(["https://a.example", "https://b.example:8443", "https://dashboard.dalgo.example",
                           "https://app.dalgo.example"])


def test_jwt_settings_come_from_the_environment_with_dalgos_defaults():
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == (os.environ.get("JWT_SECRET_KEY") or settings.SECRET_KEY)
    assert settings_in_subprocess(
        {"JWT_SECRET_KEY": "", "JWT_ACCESS_TOKEN_EXPIRY_MINUTES": "", "JWT_REFRESH_TOKEN_EXPIRY_DAYS": "",
         "DJANGO_SECRET_KEY": "the-django-secret"},
        "settings.SIMPLE_JWT['SIGNING_KEY'], settings.SIMPLE_JWT['ACCESS_TOKEN_LIFETIME'].total_seconds(), "
        "settings.SIMPLE_JWT['REFRESH_TOKEN_LIFETIME'].days",
    ) == "the-django-secret 1800.0 7"
    # A token signed with JWT_SECRET_KEY (as Dalgo's backend signs it) is the one accepted.
    token = jwt.encode({"token_type": "access", "exp": int(time.time()) + 60, "iat": int(time.time()),
                        "jti": "j1", "user_id": 7}, "dalgos-jwt-secret", algorithm="HS256")
    assert settings_in_subprocess(
        {"JWT_SECRET_KEY": "dalgos-jwt-secret"},
        f"__import__('rest_framework_simplejwt.tokens').tokens.AccessToken('{token}')['user_id']",
    ) == "7"


def test_a_bad_cookie_samesite_is_refused_at_startup():
    code = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'ddpui.settings'; django.setup()"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COOKIE_SAMESITE": "sometimes"})
    assert done.returncode != 0 and "COOKIE_SAMESITE" in done.stderr


def test_a_preflight_from_an_allowed_origin_gets_the_cors_headers(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.dalgo.example"]
    response = client.options(PROGRESS_URL, HTTP_ORIGIN="https://app.dalgo.example", **PREFLIGHT)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.dalgo.example"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "x-dalgo-org" in response["Access-Control-Allow-Headers"]
    assert "GET" in response["Access-Control-Allow-Methods"]


def test_other_origins_get_no_cors_headers(client, settings, db):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.dalgo.example"]
    for origin in ("https://evil.example", "https://app.dalgo.example.evil.example", "null"):
        response = client.options(PROGRESS_URL, HTTP_ORIGIN=origin, **PREFLIGHT)
        assert not [name for name in response.headers if name.lower().startswith("access-control-")], origin
        response = client.get(PROGRESS_URL, HTTP_ORIGIN=origin)
        assert "Access-Control-Allow-Origin" not in response.headers
def test_the_cluster_timeout_follows_a_slow_models_timeout():
    # Settings are read once per process: a fresh interpreter with a slow local model's timeout.
    env = {**os.environ, "LLM_TIMEOUT_SECONDS": "300", "DJANGO_SETTINGS_MODULE": "ddpui.settings"}
    env.pop("Q_TIMEOUT_SECONDS", None)
    probe = "from django.conf import settings; print(settings.Q_TIMEOUT_SECONDS, settings.Q_CLUSTER['timeout'])"
    output = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    timeout, cluster_timeout = map(int, output.stdout.split())
    assert timeout == cluster_timeout >= 300 + settings.LOG_SETTLE_MAX_SECONDS
