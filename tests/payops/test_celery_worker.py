"""A real Celery worker process, on the configured broker, processes what the webhook stored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from payops.celery import app as celery_app
from payops.models import EventStatus, InboundEvent
from tests.payops.test_concurrency import post
from tests.webhook_payloads import stripe_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

BASE_DIR = Path(settings.BASE_DIR)


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgresql://{db['USER']}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "STRIPE_WEBHOOK_SECRETS": ",".join(settings.STRIPE_WEBHOOK_SECRETS),
    }
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "payops", "worker", "--pool", "solo", "--loglevel", "INFO"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def wait_for_status(pk: int, wanted: set[str], timeout: float = 30) -> str:
    """Poll the row the worker writes (another process: nothing to join on)."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = InboundEvent.objects.get(pk=pk).status
        if status in wanted:
            return status
        time.sleep(0.1)
    return status


def test_worker_process_picks_up_a_stored_event(
    live_server: Any, worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    from payops.inbox_dispatcher import dispatch_until_idle

    celery_app.conf.task_always_eager = False
    body = stripe_event("evt_worker", "balance.available")  # a type PayOps does not handle
    assert post(f"{live_server.url}/webhooks/stripe/", body) == 200
    assert dispatch_until_idle() == 1  # published to the real broker
    event = InboundEvent.objects.get(event_id="evt_worker")
    status = wait_for_status(event.pk, {EventStatus.IGNORED, EventStatus.PROCESSED, EventStatus.FAILED})
    assert status == EventStatus.IGNORED, (tmp_path / "worker.log").read_text()[-3000:]
    assert worker.poll() is None
