"""Shared fixtures: a small named cast of users, signed Stripe posts, test handlers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

# Playwright's sync API keeps an event loop running in the test thread, and
# Django's async guard would refuse ORM calls in browser tests. Tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from payops import event_handlers
from payops.celery import app as celery_app
from tests.webhook_payloads import TEST_SECRET


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # dj-stripe's migrations take ~30 s on SQLite; building its tables straight
    # from the models gives the same schema in under a second. Not on
    # PostgreSQL: there its tables' foreign keys to auth_user would be created
    # before auth's own migration has run.
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        settings.MIGRATION_MODULES = {"djstripe": None}


@pytest.fixture(autouse=True)
def _suite_settings(settings: Any) -> None:
    settings.STRIPE_WEBHOOK_SECRETS = [TEST_SECRET]
    settings.ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    """Tasks run inline when their on-commit callback fires."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def post_stripe(client: Client) -> Callable[..., Any]:
    def post(body: bytes, **headers: Any) -> Any:
        return client.post("/webhooks/stripe/", data=body, content_type="application/json", **headers)

    return post


@pytest.fixture
def recorded_handler() -> Iterator[list[int]]:
    """A handler for stripe `test.recorded` events that records each call."""
    calls: list[int] = []

    @event_handlers.handles("stripe", "test.recorded")
    def record(event: Any) -> None:
        calls.append(event.pk)

    yield calls
    event_handlers.unregister("stripe", "test.recorded")


@pytest.fixture
def inbox_dispatcher(transactional_db: None) -> Iterator[None]:
    """The inbox dispatcher in a background thread, as `manage.py run_inbox_dispatcher` runs it."""
    import threading

    from django.db import connection

    from payops.inbox_dispatcher import run_dispatcher

    stop = threading.Event()

    def run() -> None:
        try:
            run_dispatcher(idle_seconds=0.02, stop=stop)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="test-inbox-dispatcher", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def _member(username: str, group: str | None, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests-only", **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def viewer(db: None) -> User:
    return _member("vera", "Viewer")


@pytest.fixture
def reviewer(db: None) -> User:
    return _member("rita", "Reviewer")


@pytest.fixture
def approver(db: None) -> User:
    return _member("april", "Approver")


@pytest.fixture
def admin_user_in_group(db: None) -> User:
    return _member("ada", "Admin", is_staff=True)


@pytest.fixture
def outsider(db: None) -> User:
    return _member("otto", None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With `--log-file`, the whole run's log is scanned for card data at the end; a finding fails the run.

    Only the log outlives the run (each test's rows are rolled back or flushed),
    so the database and model files are scanned by tests/security/test_no_card_data.py.
    """
    log_file = session.config.getoption("log_file", None)
    if hasattr(session.config, "workerinput") or not log_file or not os.path.isfile(log_file):
        return  # an xdist worker (the controller scans once, after all of them), or no log file
    from pathlib import Path

    from payops.card_data_scan import scan_log_files

    found = scan_log_files(Path(log_file))
    if found.findings:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.section("card data in the test log", sep="=", red=True)
            for finding in found.findings:
                reporter.line(str(finding))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
