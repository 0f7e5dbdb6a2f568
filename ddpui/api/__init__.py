"""The HTTP API: the Prefect webhook, the summary read API, Dalgo's login and its compatible endpoints."""

import logging
import math

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import Throttled

from ddpui.api import dalgo_api, orgpreferences_api, summary_api, user_api, webhook_api
from ddpui.api.auth import DalgoAuth, TokenExpired

# Dalgo's code for an expired access-token cookie: its webapp_v2 refreshes the cookie and retries on it.
TOKEN_EXPIRED_STATUS = 498

logger = logging.getLogger(__name__)

api = NinjaAPI(title="Dalgo failure summaries", version="1", auth=DalgoAuth(), urls_namespace="ddpui-api")
api.add_router("/webhooks/v1/", webhook_api.router)
api.add_router("/api/v1/", summary_api.router)
api.add_router("/api/prefect/v1/", dalgo_api.prefect_router)
api.add_router("/api/airbyte/v1/", dalgo_api.airbyte_router)
api.add_router("/api/tasks/", dalgo_api.tasks_router)
api.add_router("/api/", user_api.router)
api.add_router("/api/orgpreferences/", orgpreferences_api.router)


@api.exception_handler(Throttled)
def too_many_failures(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """429 with Retry-After (whole seconds, RFC 9110): raised for a client blocked after failed authentication."""
    response = api.create_response(request, {"detail": "too many failed attempts, try again later"}, status=429)
    if exc.wait is not None:
        response["Retry-After"] = str(math.ceil(exc.wait))
    return response


@api.exception_handler(TokenExpired)
def token_expired(request: HttpRequest, exc: TokenExpired) -> HttpResponse:
    """498 {"detail": "Token expired"}, as Dalgo's backend answers an expired cookie token."""
    return api.create_response(request, {"detail": "Token expired"}, status=TOKEN_EXPIRED_STATUS)


@api.exception_handler(DatabaseError)
def database_unavailable(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    """503 with Retry-After, as JSON: the database is down or unreachable (a stored read will work again once
    it is back; nothing was changed). Django's own answer would be an HTML 500."""
    logger.error("database unavailable on %s %s: %s", request.method, request.path, exc)
    response = api.create_response(request, {"detail": "database unavailable, try again"}, status=503)
    response["Retry-After"] = "5"
    return response
