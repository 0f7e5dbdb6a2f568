"""The tests' settings: ddpui.settings with a secret key of this test session's own.

Without DEBUG the app refuses the default key (ddpui/checks.py), and the processes the tests start (gunicorn,
qcluster) must sign and verify queued tasks with the same key as the test process: they get it from
`process_env` and the harness's `app_env` (both pass settings.SECRET_KEY on).
"""

import os
import secrets

from ddpui.settings import *  # noqa: F403

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
# Derived from SECRET_KEY in ddpui.settings when JWT_SECRET_KEY is unset: derived again from this session's key.
JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY") or SECRET_KEY
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": JWT_SECRET_KEY}  # noqa: F405
