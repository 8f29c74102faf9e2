"""Checkfront webhooks from the simulator, end to end: delivered, verified, stored once, refreshed from the API."""

from __future__ import annotations

from typing import Any

import pytest

from bookings import signals
from bookings.checkfront_sim import CheckfrontSimulator
from bookings.models import Booking, Transaction
from payops.models import EventStatus, InboundEvent
from tests.bookings.conftest import WEBHOOK_TOKEN
from tests.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def new_booking(sim: CheckfrontSimulator, **fields: Any) -> dict[str, Any]:
    return sim.create_booking(
        customer={"name": "Grace Hopper", "email": "grace@example.com", "country": "US"},
        items=[{"item_id": 1, "qty": 2}],
        status_id="HOLD",
        source_ip="203.0.113.9",
        **fields,
    )


@pytest.mark.parametrize("body_format", ["json", "xml", "form"])
def test_a_new_booking_reaches_the_mirror_by_webhook_in_every_format(
    live_server: Any, checkfront: CheckfrontSimulator, inbox_dispatcher: None, body_format: str
) -> None:
    checkfront.configure_webhooks(url=f"{live_server.url}/webhooks/checkfront/{WEBHOOK_TOKEN}/", format=body_format)
    created: list[str] = []

    def on_created(sender: Any, booking: Booking, **kwargs: Any) -> None:
        created.append(booking.code)

    signals.booking_created.connect(on_created)
    try:
        booking = new_booking(checkfront)
        assert checkfront.wait_for_webhooks()
        assert wait_until(lambda: Booking.objects.filter(code=booking["code"]).exists())
        # The mirror commits before the event is marked processed: wait for both.
        assert wait_until(lambda: InboundEvent.objects.filter(status=EventStatus.PROCESSED).exists())
    finally:
        signals.booking_created.disconnect(on_created)
    mirrored = Booking.objects.get(code=booking["code"])
    assert mirrored.status == "HOLD"
    assert mirrored.customer_email == "grace@example.com"
    assert mirrored.items.count() == 1
    assert mirrored.detail_synced_at is not None
    assert created == [booking["code"]]
    event = InboundEvent.objects.get(source="checkfront")
    assert (event.event_type, event.status) == ("booking.modified", EventStatus.PROCESSED)
    assert checkfront.webhook_state()["endpoints"][0]["consecutive_failures"] == 0


def test_a_payment_webhook_records_the_transaction_and_the_paid_booking(
    live_server: Any, checkfront: CheckfrontSimulator, inbox_dispatcher: None
) -> None:
    booking = new_booking(checkfront)
    checkfront.configure_webhooks(url=f"{live_server.url}/webhooks/checkfront/{WEBHOOK_TOKEN}/")
    due = booking["amount_due"]
    checkfront.add_payment(booking["code"], amount=due, transaction_id="ch_test_123", payment_mask="4242")
    assert checkfront.wait_for_webhooks()
    assert wait_until(lambda: Transaction.objects.filter(checkfront_id="ch_test_123").exists())
    transaction = Transaction.objects.get(checkfront_id="ch_test_123")
    assert (transaction.status, transaction.gateway_id, transaction.payment_last4) == ("PAID", "Stripe", "4242")
    assert wait_until(lambda: Booking.objects.filter(code=booking["code"], status="PAID").exists())
    assert Booking.objects.get(code=booking["code"]).due_minor == 0


def test_a_replayed_delivery_is_processed_once(
    live_server: Any, checkfront: CheckfrontSimulator, inbox_dispatcher: None
) -> None:
    import urllib.request

    checkfront.configure_webhooks(url=f"{live_server.url}/webhooks/checkfront/{WEBHOOK_TOKEN}/")
    new_booking(checkfront)
    assert checkfront.wait_for_webhooks()
    delivery = checkfront.webhook_deliveries(limit=1, bodies=True)[0]
    request = urllib.request.Request(  # noqa: S310 - our own live server
        delivery["url"], data=delivery["body"].encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert b'"duplicate": true' in response.read()
    assert InboundEvent.objects.filter(source="checkfront").count() == 1


def test_a_wrong_token_is_refused_and_checkfront_sees_the_failure(
    live_server: Any, checkfront: CheckfrontSimulator, inbox_dispatcher: None
) -> None:
    checkfront.configure_webhooks(url=f"{live_server.url}/webhooks/checkfront/not-the-right-token-at-all-000/")
    new_booking(checkfront)
    assert checkfront.wait_for_webhooks()
    assert not InboundEvent.objects.exists()
    assert checkfront.webhook_state()["endpoints"][0]["consecutive_failures"] >= 1


def test_when_checkfront_is_down_the_event_waits_and_is_processed_later(
    live_server: Any, checkfront: CheckfrontSimulator, inbox_dispatcher: None
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from payops.event_processing import process_event

    checkfront.configure_webhooks(url=f"{live_server.url}/webhooks/checkfront/{WEBHOOK_TOKEN}/")
    checkfront.set_faults({"status": 503, "share": 1.0, "path_prefix": "/api/3.0/booking/"})
    booking = new_booking(checkfront)
    assert checkfront.wait_for_webhooks()
    assert wait_until(lambda: InboundEvent.objects.filter(status=EventStatus.RETRYING).exists(), timeout=30)
    assert not Booking.objects.filter(code=booking["code"]).exists()
    checkfront.clear_faults()
    event = InboundEvent.objects.get(source="checkfront")
    InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert process_event(event.pk) == EventStatus.PROCESSED
    assert Booking.objects.filter(code=booking["code"]).exists()
