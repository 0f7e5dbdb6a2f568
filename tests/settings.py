"""The tests' settings: ddpui.settings with a secret key of this test session's own.

Without DEBUG the app refuses the default key (ddpui/checks.py), and the processes the tests start (gunicorn,
qcluster) must sign and verify queued tasks with the same key as the test process. Set in the environment before
ddpui.settings reads it, so that every setting derived from it (the JWT signing key) agrees, and the child
processes inherit it (`process_env` and the harness's `app_env` also pass settings.SECRET_KEY on).
"""

import os
import secrets

os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))

from ddpui.settings import *  # noqa: E402, F403
