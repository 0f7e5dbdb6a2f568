"""URL routes: the admin, the health check, the summary page and the API (webhook, summaries, Dalgo's endpoints;
docs at /api/docs)."""

from django.contrib import admin
from django.urls import path

from ddpui.api import api
from ddpui.api.health_api import health
from ddpui.pages.summary_page import run_summary_view, summary_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("summaries/run/<str:flow_run_id>/", run_summary_view, name="summary-of-run"),
    path("summaries/<str:summary_id>/", summary_view, name="summary-page"),
    path("", api.urls),
]
