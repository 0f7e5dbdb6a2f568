"""GET /health/: the database and the task queue, for load balancers, uptime checks and operators.

A plain Django view, not a django-ninja route: it must answer without authentication and without the
failed-auth throttle (which needs the database), and it stays out of the API's OpenAPI description.
It reveals counts and ages only, nothing of any org.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ddpui.core.queue_health import check_queue_health


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and the queue is not stalled, else 503; the JSON says which and why."""
    report = check_queue_health()
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)
