"""URL routes: the admin and the API (webhook, summaries, Dalgo's endpoints; docs at /api/docs)."""

from django.contrib import admin
from django.urls import path

from ddpui.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", api.urls),
]
