"""Races: concurrent duplicate deliveries and concurrent claims give exactly one outcome.

These run against a live server with real threads and real database
connections; in CI they run on PostgreSQL as well as SQLite.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from payops.event_processing import process_event
from payops.models import EventStatus, InboundEvent
from tests.polling import wait_until
from tests.webhook_payloads import raw_signature, stripe_event

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own live server
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": raw_signature(body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own live server
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def run_together(fn: Callable[[], Any], n: int) -> list[Any]:
    """Start n calls at the same instant and collect their results."""
    barrier = threading.Barrier(n)

    def call() -> Any:
        barrier.wait()
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result() for f in [pool.submit(call) for _ in range(n)]]


def test_concurrent_duplicate_deliveries_are_stored_and_processed_once(
    live_server: Any, recorded_handler: list[int]
) -> None:
    from payops.inbox_dispatcher import dispatch_until_idle

    body = stripe_event("evt_race", "test.recorded")
    statuses = run_together(lambda: post(f"{live_server.url}/webhooks/stripe/", body), THREADS)
    assert statuses == [200] * THREADS
    assert run_together(dispatch_until_idle, 3).count(1) == 1  # three dispatchers, one message
    event = InboundEvent.objects.get(event_id="evt_race")
    assert event.status == EventStatus.PROCESSED
    assert recorded_handler == [event.pk]


def test_many_distinct_events_in_parallel_are_each_stored_once(
    live_server: Any, recorded_handler: list[int], inbox_dispatcher: None
) -> None:
    bodies = [stripe_event(f"evt_par_{n}", "test.recorded") for n in range(40)]
    url = f"{live_server.url}/webhooks/stripe/"
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(lambda b: post(url, b), bodies + bodies))
    assert statuses == [200] * 80
    assert InboundEvent.objects.filter(event_id__startswith="evt_par_").count() == 40
    assert wait_until(lambda: len(recorded_handler) >= 40, timeout=15)
    assert sorted(recorded_handler) == sorted(InboundEvent.objects.values_list("pk", flat=True))


def test_concurrent_claims_of_one_event_run_its_handler_once(recorded_handler: list[int]) -> None:
    event = InboundEvent.objects.create(
        source="stripe", event_id="evt_claim", event_type="test.recorded", payload={}, trace_id="t"
    )
    results = run_together(lambda: process_event(event.pk), THREADS)
    assert results.count(EventStatus.PROCESSED) == 1
    assert results.count(None) == THREADS - 1
    assert recorded_handler == [event.pk]
    event.refresh_from_db()
    assert event.attempts == 1
