"""A real Celery worker keeps its PostgreSQL connection between tasks, as a web worker does between requests.

Celery's Django fixup would close it before and after every task: one new
PostgreSQL backend per task (bench/load_webhooks.py, docs/benchmarks.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from payops.celery import app as celery_app
from payops.models import EventStatus, InboundEvent
from tests.payops.test_celery_worker import database_url, wait_for_status
from tests.payops.test_concurrency import post
from tests.webhook_payloads import stripe_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

FINISHED: set[str] = {EventStatus.IGNORED, EventStatus.PROCESSED, EventStatus.FAILED}


@pytest.fixture
def named_worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A prefork worker (as the Procfile runs it) whose PostgreSQL backends carry their own application_name."""
    app_name = f"payops-test-worker-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "STRIPE_WEBHOOK_SECRETS": ",".join(settings.STRIPE_WEBHOOK_SECRETS),
        "PGAPPNAME": app_name,
    }
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "payops", "worker", "--concurrency", "1", "--loglevel", "INFO"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process, app_name
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def worker_backends(app_name: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s ORDER BY pid", [app_name])
        return [row[0] for row in cursor.fetchall()]


def process_one(live_server: Any, event_id: str, tmp_path: Path) -> None:
    from payops.inbox_dispatcher import dispatch_until_idle

    assert post(f"{live_server.url}/webhooks/stripe/", stripe_event(event_id, "balance.available")) == 200
    assert dispatch_until_idle() == 1
    event = InboundEvent.objects.get(event_id=event_id)
    status = wait_for_status(event.pk, FINISHED)
    assert status == EventStatus.IGNORED, (tmp_path / "worker.log").read_text()[-3000:]


def test_the_worker_reuses_its_database_connection_across_tasks(
    live_server: Any, named_worker: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL backend per connection is what this counts; SQLite has none")
    worker, app_name = named_worker
    celery_app.conf.task_always_eager = False
    log = tmp_path / "worker.log"
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.1)
    before = worker_backends(app_name)  # the main process's, if it has one; no task has run
    process_one(live_server, "evt_conn_1", tmp_path)
    after_first = worker_backends(app_name)
    process_one(live_server, "evt_conn_2", tmp_path)
    after_second = worker_backends(app_name)
    # The pool process is still connected after its task, and the second task used that same backend.
    assert set(after_first) - set(before), (before, after_first)
    assert after_second == after_first
    assert worker.poll() is None
