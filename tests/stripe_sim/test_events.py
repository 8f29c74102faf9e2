"""Events API: every state change is an event with the object as it was, filters by type, and no events for reads."""

from __future__ import annotations

import inspect
import re

import stripe
from stripe.params import _webhook_endpoint_create_params as endpoint_params

from payops.stripe_sim.events import EVENT_TYPES

PAY = {"amount": 2000, "currency": "usd", "payment_method_types": ["card"]}


def types(client: stripe.StripeClient, **params: object) -> list[str]:
    return [e.type for e in reversed(client.v1.events.list({"limit": 100, **params}).data)]  # type: ignore[arg-type]


def test_manual_capture_flow_events(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create(
        {**PAY, "payment_method": "pm_card_visa", "capture_method": "manual", "confirm": True}
    )
    stripe_client.v1.payment_intents.capture(intent.id)
    assert types(stripe_client) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "charge.captured",
        "payment_intent.succeeded",
    ]


def test_decline_events(stripe_client: stripe.StripeClient) -> None:
    try:
        stripe_client.v1.payment_intents.create(
            {**PAY, "payment_method": "pm_card_visa_chargeDeclined", "confirm": True}
        )
    except stripe.CardError:
        pass
    assert types(stripe_client) == ["payment_intent.created", "charge.failed", "payment_intent.payment_failed"]
    failed = stripe_client.v1.events.list({"type": "payment_intent.payment_failed"}).data[0]
    assert failed.data.object["last_payment_error"]["decline_code"] == "generic_decline"


def test_event_objects_are_snapshots(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"name": "Before"})
    stripe_client.v1.customers.update(customer.id, {"name": "After"})
    created = stripe_client.v1.events.list({"type": "customer.created"}).data[0]
    assert created.data.object["name"] == "Before"
    assert created["request"]["id"].startswith("req_")  # `.request` is a method of StripeObject


def test_type_filters_and_wildcards(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create()
    stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa", "confirm": True})
    assert types(stripe_client, type="charge.*") == ["charge.succeeded"]
    assert types(stripe_client, types=["customer.created", "payment_intent.succeeded"]) == [
        "customer.created",
        "payment_intent.succeeded",
    ]
    event = stripe_client.v1.events.list().data[0]
    assert stripe_client.v1.events.retrieve(event.id).id == event.id


def test_reads_emit_nothing(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    stripe_client.v1.customers.retrieve(customer.id)
    stripe_client.v1.customers.list()
    assert types(stripe_client) == ["customer.created"]


def test_charge_update_emits_charge_updated(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa", "confirm": True})
    stripe_client.v1.charges.update(str(intent.latest_charge), {"metadata": {"note": "vip"}, "description": "changed"})
    event = stripe_client.v1.events.list({"type": "charge.updated"}).data[0]
    assert event.data.previous_attributes.to_dict() == {"metadata": {"note": None}, "description": None}  # type: ignore[union-attr]
    charges = stripe_client.v1.charges.list({"payment_intent": intent.id}).data
    assert [c.metadata.to_dict() for c in charges] == [{"note": "vip"}]


def test_every_emitted_type_is_a_stripe_event_type() -> None:
    # stripe-python lists every event type Stripe has as the values of enabled_events.
    stripe_types = set(re.findall(r'"([a-z_]+(?:\.[a-z_]+)+)"', inspect.getsource(endpoint_params)))
    assert set(EVENT_TYPES) <= stripe_types
