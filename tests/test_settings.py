"""Production settings of the queue and the database (django-q2.md's measured rules)."""

import os
import subprocess
import sys

from django.conf import settings


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


def test_the_cluster_timeout_follows_a_slow_models_timeout():
    # Settings are read once per process: a fresh interpreter with a slow local model's timeout.
    env = {**os.environ, "LLM_TIMEOUT_SECONDS": "300", "DJANGO_SETTINGS_MODULE": "ddpui.settings"}
    env.pop("Q_TIMEOUT_SECONDS", None)
    probe = "from django.conf import settings; print(settings.Q_TIMEOUT_SECONDS, settings.Q_CLUSTER['timeout'])"
    output = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    timeout, cluster_timeout = map(int, output.stdout.split())
    assert timeout == cluster_timeout >= 300 + settings.LOG_SETTLE_MAX_SECONDS
