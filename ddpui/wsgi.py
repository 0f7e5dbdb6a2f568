"""WSGI entry point (gunicorn ddpui.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ddpui.settings")
application = get_wsgi_application()
