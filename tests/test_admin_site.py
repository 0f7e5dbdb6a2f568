"""Admin logins are throttled like API tokens: failures counted per (address, username), 429 past the limit,
and a blocked pair's password is not even checked."""

import pytest
from django.contrib.auth import get_user_model

from ddpui.core.auth.throttle import ADMIN_SCOPE
from ddpui.models import AuthFailureWindow

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "pw-for-tests-only-7c1"


@pytest.fixture
def admin_user():
    """A superuser with a known password."""
    return get_user_model().objects.create_superuser("admin", "admin@ngo.test", PASSWORD)


def login(client, password: str, *, username: str = "admin", address: str = "127.0.0.1"):
    """POST the admin's login form."""
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def test_failed_admin_logins_get_429_past_the_limit(client, admin_user, settings):
    settings.AUTH_FAILURE_LIMIT = 3
    for _ in range(2):
        assert login(client, "wrong").status_code == 200  # the form again, with its error
    refused = login(client, "wrong")
    assert refused.status_code == 429 and refused.json() == {"detail": "too many failed attempts, try again later"}
    assert 0 < int(refused["Retry-After"]) <= settings.AUTH_FAILURE_WINDOW_SECONDS
    # A password can be guessed: while blocked, even the right one is not checked from this address.
    assert login(client, PASSWORD).status_code == 429
    # The owner elsewhere, and another user behind the same address, log in.
    assert login(client, PASSWORD, address="192.0.2.9").status_code == 302
    client.logout()
    get_user_model().objects.create_superuser("second", "second@ngo.test", PASSWORD)
    assert login(client, PASSWORD, username="second").status_code == 302
    # Only failures were counted, and the username is stored as a digest, never in clear.
    [row] = AuthFailureWindow.objects.filter(scope=ADMIN_SCOPE)
    assert row.failures == 3 and row.client.startswith("127.0.0.1|") and "admin" not in row.client


def test_a_successful_admin_login_is_not_counted(client, admin_user):
    assert login(client, PASSWORD).status_code == 302
    assert not AuthFailureWindow.objects.exists()
