"""The mirror's rules under stress: reads only, no transaction during network calls, latest fetch wins,
replays, failing receivers, Stripe outages, out-of-order events and foreign-mode events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from djstripe import models as djstripe_models

from payops import stripe_signals
from payops.event_processing import process_event, replay_events
from payops.models import EventStatus, InboundEvent, StripeMirrorFetch
from payops.stripe_gateway import CardDeclined, StripeGateway
from payops.stripe_mirror import fetch_and_sync
from tests.payops.stripe_flow import Received, pay, settled
from tests.polling import wait_until
from tests.stripe_fixtures import TEST_API_KEY
from tests.webhook_payloads import TEST_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingClient(stripe.RequestsClient):
    """stripe-python's global client (dj-stripe's), noting each call and whether a transaction was open."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.calls: list[tuple[str, str, bool]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method.upper(), urlsplit(url).path, connection.in_atomic_block))
        return super().request(method, url, headers, post_data, *args, **kwargs)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingClient]:
    client = RecordingClient()
    monkeypatch.setattr(stripe, "default_http_client", client)
    yield client


def test_mirroring_only_reads_and_never_inside_a_transaction(
    delivering: Any, gateway: StripeGateway, stripe_client: Any, recording: RecordingClient
) -> None:
    customer = gateway.create_customer(idempotency_key="cus-rules", email="rules@example.com")
    intent = pay(gateway, "pi-rules", customer_id=customer.id)
    gateway.create_refund(idempotency_key="re-rules", payment_intent_id=intent.id, amount_minor=900)
    pay(gateway, "pi-rules-dispute", "pm_card_createDispute")
    stripe_client.v1.customers.delete(customer.id)
    settled(delivering)
    assert recording.calls, "dj-stripe made no calls: the recording client was not used"
    assert {method for method, _, _ in recording.calls} == {"GET"}
    inside = [(method, path) for method, path, in_transaction in recording.calls if in_transaction]
    # Related objects the mirror lacks are brought in before the transaction
    # opens, so no call waits inside one (on SQLite: with the database locked).
    # The exception is dj-stripe's one-time lookup of the key's own account.
    assert [call for call in inside if call[1] != "/v1/account"] == []
    assert djstripe_models.Customer.objects.get(id=customer.id).date_purged is not None


def test_a_replayed_event_resyncs_and_signals_again_without_duplicates(
    delivering: Any, gateway: StripeGateway, received: Received
) -> None:
    intent = pay(gateway, "pi-replay")
    settled(delivering)
    events_before = djstripe_models.Event.objects.count()
    replay_events(
        InboundEvent.objects.filter(event_type="payment_intent.succeeded"), actor=None, via="test", enqueue=True
    )
    assert wait_until(lambda: InboundEvent.objects.get(event_type="payment_intent.succeeded").status == "processed")
    assert [i for i, _ in received.of("payment_succeeded")] == [intent.id, intent.id]
    assert djstripe_models.PaymentIntent.objects.filter(id=intent.id).count() == 1
    assert djstripe_models.Event.objects.count() == events_before


def test_a_failing_receiver_leaves_the_event_to_retry_and_the_retry_finishes_it(
    delivering: Any, gateway: StripeGateway
) -> None:
    calls: list[str] = []

    def flaky(sender: Any, stripe_object: dict[str, Any], **_: Any) -> None:
        calls.append(stripe_object["id"])
        if len(calls) == 1:
            raise RuntimeError("workflow store briefly unavailable")

    stripe_signals.payment_succeeded.connect(flaky, weak=False)
    try:
        intent = pay(gateway, "pi-flaky")
        assert delivering.wait_for_webhooks(timeout=20)
        event = InboundEvent.objects.get(event_type="payment_intent.succeeded")
        assert wait_until(lambda: InboundEvent.objects.get(pk=event.pk).status == EventStatus.RETRYING)
        assert "briefly unavailable" in InboundEvent.objects.get(pk=event.pk).last_error
        InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
        assert process_event(event.pk) == EventStatus.PROCESSED
    finally:
        stripe_signals.payment_succeeded.disconnect(flaky)
    assert calls == [intent.id, intent.id]


def test_a_stripe_outage_while_mirroring_is_retried_until_it_passes(
    delivering: Any, gateway: StripeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    delivering.set_faults({"status": 503, "method": "GET", "path_prefix": "/v1/payment_intents"})
    intent = pay(gateway, "pi-outage")
    assert delivering.wait_for_webhooks(timeout=20)
    event = InboundEvent.objects.get(event_type="payment_intent.succeeded")
    assert wait_until(lambda: InboundEvent.objects.get(pk=event.pk).status == EventStatus.RETRYING)
    delivering.clear_faults()
    InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    assert process_event(event.pk) == EventStatus.PROCESSED
    assert djstripe_models.PaymentIntent.objects.get(id=intent.id).stripe_data["status"] == "succeeded"


def test_events_processed_out_of_order_are_sent_as_stale(
    live_server: Any, stripe_api: Any, gateway: StripeGateway, received: Received
) -> None:
    # No dispatcher: the deliveries are stored, then processed newest first.
    stripe_api.configure_webhook(url=f"{live_server.url}/webhooks/stripe/", secret=TEST_SECRET)
    with pytest.raises(CardDeclined) as caught:
        pay(gateway, "pi-order", "pm_card_chargeDeclinedInsufficientFunds")
    gateway.confirm_payment_intent(
        caught.value.payment_intent_id, idempotency_key="pi-order-retry", payment_method_id="pm_card_visa"
    )
    assert stripe_api.wait_for_webhooks(timeout=20)
    assert wait_until(lambda: InboundEvent.objects.filter(event_type="payment_intent.succeeded").exists())
    for event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        assert process_event(InboundEvent.objects.get(event_type=event_type).pk) == EventStatus.PROCESSED
    sent = {s.signal: s for s in received.calls}
    assert sent["payment_succeeded"].stale is False
    assert sent["payment_failed"].stale is True
    assert sent["payment_failed"].mirrored.stripe_data["status"] == "succeeded"


def test_an_event_from_the_other_mode_is_neither_mirrored_nor_signalled(
    delivering: Any, gateway: StripeGateway, received: Received, settings: Any
) -> None:
    settings.STRIPE_LIVE_MODE = True  # the stand-in only speaks test mode
    pay(gateway, "pi-mode")
    settled(delivering)
    assert InboundEvent.objects.filter(event_type="payment_intent.succeeded", status="processed").exists()
    assert received.calls == []
    assert not djstripe_models.PaymentIntent.objects.exists()


def test_a_copy_fetched_before_the_stored_one_is_dropped(stripe_api: Any, gateway: StripeGateway) -> None:
    intent = pay(gateway, "pi-fetch", metadata={"step": "first"})
    model = djstripe_models.PaymentIntent
    fetch_and_sync(model, intent.id, api_key=TEST_API_KEY)
    gateway.update_payment_intent(intent.id, idempotency_key="pi-fetch-2", metadata={"step": "second"})
    # Another worker's fetch, started later, is already stored.
    StripeMirrorFetch.objects.filter(object_id=intent.id).update(fetched_at=timezone.now() + timedelta(minutes=1))
    assert fetch_and_sync(model, intent.id, api_key=TEST_API_KEY).metadata["step"] == "first"
    StripeMirrorFetch.objects.filter(object_id=intent.id).update(fetched_at=timezone.now() - timedelta(minutes=1))
    assert fetch_and_sync(model, intent.id, api_key=TEST_API_KEY).metadata["step"] == "second"


def test_the_payments_page_costs_the_same_queries_however_many_payments(
    delivering: Any, gateway: StripeGateway, client: Any, viewer: Any
) -> None:
    client.force_login(viewer)
    pay(gateway, "pi-q-1")
    settled(delivering)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/payments/").status_code == 200
    for n in range(2, 7):
        pay(gateway, f"pi-q-{n}")
    settled(delivering)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/payments/").content.decode()
    assert page.count("<code>pi_") == 6
    assert len(many.captured_queries) == len(few.captured_queries)


def test_an_event_whose_object_stripe_does_not_know_is_recorded_but_not_signalled(
    stripe_api: Any, received: Received
) -> None:
    from payops.inbox import store_event
    from payops.webhook_verifiers import VerifiedEvent

    payload = {
        "id": "evt_forgotten",
        "object": "event",
        "type": "payment_intent.succeeded",
        "livemode": False,
        "created": 1_790_000_000,
        "api_version": stripe.api_version,
        "data": {"object": {"id": "pi_nobodyknows", "object": "payment_intent", "status": "succeeded"}},
    }
    event, _ = store_event(
        source="stripe",
        verified=VerifiedEvent(event_id="evt_forgotten", event_type="payment_intent.succeeded", payload=payload),
        processed_here=True,
    )
    assert process_event(event.pk) == EventStatus.PROCESSED
    assert received.calls == []
    assert djstripe_models.Event.objects.filter(id="evt_forgotten").exists()
    assert not djstripe_models.PaymentIntent.objects.exists()
