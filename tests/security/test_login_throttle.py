"""Failed logins are throttled per username and per client address, through the real login view.

The count lives in the database (django-axes' AccessAttempt rows), so every
gunicorn worker sees the same one. Limits: settings PAYOPS_LOGIN_FAILURE_LIMIT
(5) and PAYOPS_LOGIN_LOCKOUT_MINUTES (15).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"  # tests/conftest.py's users
HOME = "10.0.0.1"
ELSEWHERE = "10.0.0.2"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Every failed login hashes a password; a fast hasher keeps the test short (tests only)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client: Client, username: str, password: str, *, ip: str = HOME, path: str = "/accounts/login/") -> Any:
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client: Client, username: str, times: int, *, ip: str = HOME) -> None:
    for _ in range(times):
        answer = log_in(client, username, "wrong", ip=ip)
        assert answer.status_code in (200, 429)


def logged_in_as(client: Client) -> str | None:
    answer = client.get("/")
    if answer.status_code != 200:
        return None
    return str(answer.context["user"].get_username())


def assert_locked_out(answer: Any) -> None:
    page = answer.content.decode()
    assert answer.status_code == 429
    assert "Too many failed logins" in page and "paused for 15 minutes" in page
    assert 'name="password"' in page  # the login page, with the reason on it
    assert "did not match" not in page  # nothing said about the password


def test_four_failures_leave_the_right_password_working(client: Client, viewer: User) -> None:
    fail(client, viewer.username, 4)
    answer = log_in(client, viewer.username, PASSWORD)
    assert answer.status_code == 302
    assert logged_in_as(client) == viewer.username


def test_five_failures_lock_the_username_out_even_with_the_right_password(client: Client, viewer: User) -> None:
    fail(client, viewer.username, 4)
    fifth = log_in(client, viewer.username, "wrong")
    assert_locked_out(fifth)
    right = log_in(client, viewer.username, PASSWORD)
    assert_locked_out(right)
    assert logged_in_as(client) is None
    # From another address too: the lock is on the username.
    assert_locked_out(log_in(Client(), viewer.username, PASSWORD, ip=ELSEWHERE))


def test_the_admin_login_is_counted_and_locked_the_same_way(client: Client, admin_user_in_group: User) -> None:
    for _ in range(3):
        log_in(client, admin_user_in_group.username, "wrong", path="/admin/login/")
    fail(client, admin_user_in_group.username, 2)
    assert_locked_out(log_in(client, admin_user_in_group.username, PASSWORD, path="/admin/login/"))


def test_an_address_with_five_failures_is_locked_out_for_every_username(
    client: Client, viewer: User, reviewer: User
) -> None:
    for name in ["nobody", "admin", "root", "vera2", "x"]:
        log_in(client, name, "guess")
    assert_locked_out(log_in(client, reviewer.username, PASSWORD))
    # Another address, another user: unaffected.
    other = Client()
    assert log_in(other, viewer.username, PASSWORD, ip=ELSEWHERE).status_code == 302
    assert logged_in_as(other) == viewer.username


def test_a_locked_user_does_not_lock_others_out_from_elsewhere(client: Client, viewer: User, reviewer: User) -> None:
    fail(client, viewer.username, 5)
    other = Client()
    assert log_in(other, reviewer.username, PASSWORD, ip=ELSEWHERE).status_code == 302
    assert logged_in_as(other) == reviewer.username


def test_a_success_clears_the_count(client: Client, viewer: User) -> None:
    fail(client, viewer.username, 4)
    assert log_in(client, viewer.username, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    fail(client, viewer.username, 4)
    assert log_in(client, viewer.username, PASSWORD).status_code == 302


def test_the_lockout_ends_after_fifteen_minutes(client: Client, viewer: User) -> None:
    fail(client, viewer.username, 5)
    assert_locked_out(log_in(client, viewer.username, PASSWORD))
    # Fourteen minutes later (each failure while locked started the wait again): still locked.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert_locked_out(log_in(client, viewer.username, PASSWORD))
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert log_in(client, viewer.username, PASSWORD).status_code == 302
    assert logged_in_as(client) == viewer.username


def test_an_administrator_unlocks_a_username_with_the_command(client: Client, viewer: User) -> None:
    fail(client, viewer.username, 5)
    call_command("axes_reset_username", viewer.username)
    assert log_in(client, viewer.username, PASSWORD).status_code == 302


def test_an_administrator_unlocks_in_the_admin(client: Client, viewer: User, admin_user_in_group: User) -> None:
    fail(Client(), viewer.username, 5)
    admin_user_in_group.is_superuser = True
    admin_user_in_group.save()
    staff = Client()
    staff.force_login(admin_user_in_group)
    listing = staff.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and viewer.username in listing.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.filter(username=viewer.username).values_list("pk", flat=True)]
    confirm = staff.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert confirm.status_code == 302
    assert not AccessAttempt.objects.filter(username=viewer.username).exists()
    assert log_in(client, viewer.username, PASSWORD).status_code == 302


def test_a_forged_forwarded_for_header_changes_nothing_without_the_proxy(client: Client, viewer: User) -> None:
    for n in range(5):
        client.post(
            "/accounts/login/",
            {"username": f"guess{n}", "password": "x"},
            REMOTE_ADDR=HOME,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HOME}
    assert_locked_out(log_in(client, viewer.username, PASSWORD))


def test_behind_the_proxy_the_address_it_appended_is_counted(client: Client, viewer: User, settings: Any) -> None:
    settings.PAYOPS_BEHIND_PROXY = True
    proxy = "192.0.2.10"
    for n in range(5):  # the client forges the left part; the proxy appends what it saw
        client.post(
            "/accounts/login/",
            {"username": f"guess{n}", "password": "x"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, {HOME}",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HOME}
    locked = client.post(
        "/accounts/login/",
        {"username": viewer.username, "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=HOME,
    )
    assert_locked_out(locked)
    # Another client behind the same proxy is not.
    other = Client()
    answer = other.post(
        "/accounts/login/",
        {"username": viewer.username, "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR=ELSEWHERE,
    )
    assert answer.status_code == 302


@pytest.mark.parametrize(
    "username",
    ["ü" * 150, "x" * 151, "y" * 5000, "a\x00b", "名前", "' OR 1=1 --", " "],
)
def test_odd_usernames_are_refused_or_counted_never_a_500(client: Client, username: str) -> None:
    for _ in range(6):
        answer = client.post("/accounts/login/", {"username": username, "password": "wrong"}, REMOTE_ADDR=HOME)
        assert answer.status_code in (200, 429)
    answer = client.post("/accounts/login/", {"username": username, "password": "p\x00w"}, REMOTE_ADDR=HOME)
    assert answer.status_code in (200, 429)
    assert all(len(a.username or "") <= 150 and "\x00" not in (a.username or "") for a in AccessAttempt.objects.all())


def test_a_nul_in_the_user_agent_is_counted_not_a_500(client: Client, viewer: User) -> None:
    # PostgreSQL text cannot hold NUL; axes records the agent of every failure (found by the pay-page fuzz test).
    response = client.post(
        "/accounts/login/", {"username": viewer.username, "password": "wrong"}, HTTP_USER_AGENT="curl\x00/8"
    )
    assert response.status_code == 200
    assert AccessAttempt.objects.get(username=viewer.username).user_agent == "curl0x00/8"
