"""Webhooks: Stripe's signature, delivery in the background, retries until a 2xx, the log, enabling."""

from __future__ import annotations

import hashlib
import hmac
import time

import stripe

from payops.stripe_sim import DEFAULT_WEBHOOK_SECRET, StripeSimulator
from tests.stripe_fixtures import WebhookReceiver

PAY = {
    "amount": 2000,
    "currency": "usd",
    "payment_method": "pm_card_visa",
    "payment_method_types": ["card"],
    "confirm": True,
}


def test_deliveries_are_signed_as_stripe_signs(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_sim.configure_webhook(webhook_receiver.url)
    customer = stripe_client.v1.customers.create({"email": "hook@example.com"})
    assert stripe_sim.wait_for_webhooks(5)
    [delivery] = webhook_receiver.received
    assert delivery.headers["Content-Type"] == "application/json; charset=utf-8"
    assert delivery.headers["User-Agent"].startswith("Stripe/1.0")
    parts = dict(item.split("=", 1) for item in delivery.headers["Stripe-Signature"].split(","))
    assert abs(int(parts["t"]) - time.time()) < 5
    expected = hmac.new(DEFAULT_WEBHOOK_SECRET.encode(), f"{parts['t']}.".encode() + delivery.body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    event = stripe.Webhook.construct_event(delivery.body, delivery.headers["Stripe-Signature"], DEFAULT_WEBHOOK_SECRET)
    assert event.type == "customer.created"
    assert event.data.object["id"] == customer.id
    assert event["request"]["idempotency_key"]  # stripe-python sends one on every POST


def test_payment_events_arrive_in_stripes_order(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_sim.configure_webhook(webhook_receiver.url)
    intent = stripe_client.v1.payment_intents.create(PAY)
    assert stripe_sim.wait_for_webhooks(5)
    events = webhook_receiver.events()
    assert [e["type"] for e in events] == ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]
    assert events[2]["data"]["object"]["id"] == intent.id
    assert events[1]["data"]["object"]["payment_intent"] == intent.id
    assert all(e["api_version"] == stripe.api_version and e["livemode"] is False for e in events)


def test_failed_deliveries_are_retried_until_accepted(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_sim.configure_webhook(webhook_receiver.url, events=["customer.created"])
    webhook_receiver.fail_next = 2
    customer = stripe_client.v1.customers.create()
    assert stripe_sim.wait_for_webhooks(5)
    assert webhook_receiver.status_log == [500, 500, 200]
    assert {e["data"]["object"]["id"] for e in webhook_receiver.events()} == {customer.id}
    log = stripe_sim.webhook_deliveries()
    assert [(row["attempt"], row["outcome"], row["status_code"]) for row in reversed(log)] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]
    signatures = {w.headers["Stripe-Signature"] for w in webhook_receiver.received}
    assert len(signatures) >= 1
    event = stripe_client.v1.events.list({"type": "customer.created"}).data[0]
    assert event.pending_webhooks == 0


def test_delivery_gives_up_after_max_attempts(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_sim.configure_webhook(webhook_receiver.url, events=["customer.created"])
    webhook_receiver.fail_next = 100
    stripe_client.v1.customers.create()
    assert stripe_sim.wait_for_webhooks(5)
    assert len(webhook_receiver.received) == stripe_sim.webhooks.max_attempts == 4
    assert stripe_sim.webhook_deliveries()[0]["next_attempt_in"] is None


def test_an_unreachable_endpoint_is_logged_as_a_connection_error(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    stripe_sim.configure_webhook("http://127.0.0.1:9/nothing-listens-here", events=["customer.created"])
    stripe_client.v1.customers.create()
    assert stripe_sim.wait_for_webhooks(5)
    row = stripe_sim.webhook_deliveries()[-1]
    assert row["status_code"] is None and "Error" in row["error"]


def test_only_enabled_events_are_sent(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_sim.configure_webhook(webhook_receiver.url, events=["payment_intent.succeeded"])
    stripe_client.v1.payment_intents.create(PAY)
    assert stripe_sim.wait_for_webhooks(5)
    assert [e["type"] for e in webhook_receiver.events()] == ["payment_intent.succeeded"]


def test_disabled_endpoints_receive_nothing(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_sim.configure_webhook(webhook_receiver.url)
    stripe_sim.disable_webhooks()
    stripe_client.v1.customers.create()
    assert stripe_sim.wait_for_webhooks(5)
    assert webhook_receiver.received == []
    stripe_sim.enable_webhooks()
    stripe_client.v1.customers.create()
    assert stripe_sim.wait_for_webhooks(5)
    assert len(webhook_receiver.received) == 1


def test_webhook_endpoints_api_returns_the_secret_once(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    endpoint = stripe_client.v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["customer.created", "*"]}
    )
    assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")
    assert "secret" not in stripe_client.v1.webhook_endpoints.retrieve(endpoint.id)
    stripe_client.v1.customers.create()
    assert stripe_sim.wait_for_webhooks(5)
    [delivery] = webhook_receiver.received
    stripe.Webhook.construct_event(delivery.body, delivery.headers["Stripe-Signature"], endpoint.secret)
    assert stripe_client.v1.webhook_endpoints.delete(endpoint.id).deleted is True
    assert stripe_client.v1.webhook_endpoints.list().data == []


def test_a_stored_event_can_be_sent_again(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, webhook_receiver: WebhookReceiver
) -> None:
    stripe_client.v1.customers.create()
    event = stripe_client.v1.events.list().data[0]
    stripe_sim.configure_webhook(webhook_receiver.url)
    assert stripe_sim.resend_event(event.id) == 1
    assert stripe_sim.wait_for_webhooks(5)
    assert webhook_receiver.events()[0]["id"] == event.id


def test_a_delivery_that_crashes_does_not_stop_the_ones_after_it() -> None:
    from simkit.webhook_queue import DeliveryQueue

    delivered: list[int] = []

    def deliver(item: int) -> None:
        if item == 1:
            raise RuntimeError("a bug in one delivery")
        delivered.append(item)

    queue: DeliveryQueue[int] = DeliveryQueue(deliver, thread_name="test-queue", join_timeout=2)
    queue.start()
    try:
        for item in (1, 2, 3):
            queue.put(item, due=0)
        assert queue.wait_idle(timeout=5)
    finally:
        queue.stop()
    assert delivered == [2, 3]
