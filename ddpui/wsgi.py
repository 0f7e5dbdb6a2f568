"""WSGI entry point (gunicorn ddpui.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ddpui.settings")
application = get_wsgi_application()

# After set-up (the check reads settings): a worker that would serve with an insecure key does not boot.
from ddpui.checks import refuse_insecure_settings  # noqa: E402

refuse_insecure_settings()
