"""The app refuses to start with the default or a weak SECRET_KEY unless DEBUG is on, and `check --deploy` is
clean with the production settings documented in .env.example (issue 11, item 5). Real processes."""

import os
import re
import secrets
import subprocess
import sys

import pytest

from harness import REPO_ROOT

GOOD_KEY = secrets.token_urlsafe(50)


def run(code_or_args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run python with the app's settings and `env` (no DJANGO_* of ours inherited)."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    return subprocess.run([sys.executable, *code_or_args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120, env={**base, "DJANGO_SETTINGS_MODULE": "ddpui.settings", **env})


@pytest.mark.parametrize("key", [None, "change-me", "short-key", "django-insecure-" + "x" * 60, "ab" * 40])
def test_the_app_refuses_to_start_with_an_insecure_key(key):
    env = {"DJANGO_SECRET_KEY": key} if key else {}
    served = run(["-c", "import ddpui.wsgi"], **env)
    assert served.returncode != 0 and "ImproperlyConfigured" in served.stderr
    command = run(["manage.py", "check"], **env)
    assert command.returncode != 0 and "ddpui.E001" in command.stderr


def test_debug_or_a_good_key_starts():
    assert run(["-c", "import ddpui.wsgi"], DJANGO_DEBUG="true").returncode == 0
    assert run(["-c", "import ddpui.wsgi"], DJANGO_SECRET_KEY=GOOD_KEY).returncode == 0
    assert run(["manage.py", "check"], DJANGO_SECRET_KEY=GOOD_KEY).returncode == 0


def production_settings() -> dict[str, str]:
    """The production block of .env.example: its commented `# DJANGO_...=value` lines."""
    text = (REPO_ROOT / ".env.example").read_text()
    block = text.split("# --- Production (HTTPS)", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"^# (DJANGO_[A-Z_]+)=(\S+)", block, flags=re.MULTILINE))


def test_check_deploy_is_clean_with_the_documented_production_settings():
    production = production_settings()
    assert {"DJANGO_SECURE_SSL_REDIRECT", "DJANGO_SECURE_COOKIES", "DJANGO_SECURE_HSTS_SECONDS"} <= set(production)
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], DJANGO_SECRET_KEY=GOOD_KEY, **production)
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout
