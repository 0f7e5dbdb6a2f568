"""URL routes: the admin, the health check and the API (webhook, summaries, Dalgo's endpoints; docs at /docs)."""

from django.contrib import admin
from django.urls import path

from ddpui.api import api
from ddpui.api.health_api import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("", api.urls),
]
