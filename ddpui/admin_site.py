"""The admin site with failed logins throttled like API tokens (ddpui.core.auth.throttle).

A password can be guessed, unlike a token: while one address has failed too often for one username, that
address's attempts for that username are refused (429) without checking the password. The account's owner on
another address, and other users behind the same address, are not affected.
"""

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, JsonResponse

from ddpui.core.auth.throttle import ADMIN_SCOPE, blocked_for_seconds, client_address, refuse_failure, subject_key


def too_many_failures(wait: int) -> HttpResponse:
    """429 with Retry-After, the same answer the API gives."""
    response = JsonResponse({"detail": "too many failed attempts, try again later"}, status=429)
    response["Retry-After"] = str(wait)
    return response


class ThrottledAdminSite(AdminSite):
    """Django's admin; its login view counts failed logins per address and username."""

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Refuse a blocked (address, username) at once; count a POST that did not log in as a failure."""
        if request.method != "POST":
            return super().login(request, extra_context)
        key = subject_key(client_address(request), request.POST.get("username", ""))
        wait = blocked_for_seconds(ADMIN_SCOPE, key)
        if wait is not None:
            return too_many_failures(wait)
        response = super().login(request, extra_context)
        if not request.user.is_authenticated:
            wait = refuse_failure(ADMIN_SCOPE, key)
            if wait is not None:
                return too_many_failures(wait)
        return response

