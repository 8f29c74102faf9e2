"""SetupIntents: saving a card, declines on setup, 3D Secure on setup, then off-session payments."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator

SETUP: dict[str, Any] = {"payment_method_types": ["card"], "confirm": True}


def test_setup_attaches_the_card(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    intent = stripe_client.v1.setup_intents.create({**SETUP, "customer": customer.id, "payment_method": "pm_card_visa"})
    assert intent.id.startswith("seti_") and intent.status == "succeeded" and intent.usage == "off_session"
    assert stripe_client.v1.payment_methods.retrieve(str(intent.payment_method)).customer == customer.id
    types = [e.type for e in reversed(stripe_client.v1.events.list().data)]
    assert types[-3:] == ["setup_intent.created", "payment_method.attached", "setup_intent.succeeded"]


def test_decline_card_fails_setup(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    with pytest.raises(stripe.CardError) as caught:
        stripe_client.v1.setup_intents.create(
            {**SETUP, "customer": customer.id, "payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"}
        )
    error = caught.value.error
    assert error is not None and error.decline_code == "insufficient_funds"
    intent = error.setup_intent
    assert intent is not None and intent.status == "requires_payment_method"
    assert intent.last_setup_error is not None and intent.last_setup_error.decline_code == "insufficient_funds"
    assert stripe_client.v1.events.list({"limit": 1}).data[0].type == "setup_intent.setup_failed"


def test_decline_after_attach_card_sets_up_then_declines(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    intent = stripe_client.v1.setup_intents.create(
        {**SETUP, "customer": customer.id, "payment_method": "pm_card_chargeCustomerFail"}
    )
    assert intent.status == "succeeded"
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.create(
            {
                "amount": 1000,
                "currency": "usd",
                "customer": customer.id,
                "payment_method": str(intent.payment_method),
                "payment_method_types": ["card"],
                "off_session": True,
                "confirm": True,
            }
        )


def test_3ds_on_setup_then_off_session_works(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    customer = stripe_client.v1.customers.create()
    intent = stripe_client.v1.setup_intents.create(
        {**SETUP, "customer": customer.id, "payment_method": "pm_card_authenticationRequiredOnSetup"}
    )
    assert intent.status == "requires_action"
    assert stripe_sim.authenticate_setup_intent(intent.id)["status"] == "succeeded"
    payment = stripe_client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": str(intent.payment_method),
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
        }
    )
    assert payment.status == "succeeded"


def test_confirm_later_and_cancel(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.setup_intents.create({"payment_method_types": ["card"]})
    assert intent.status == "requires_payment_method"
    canceled = stripe_client.v1.setup_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.setup_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert caught.value.code == "setup_intent_unexpected_state"
    second = stripe_client.v1.setup_intents.create({"payment_method_types": ["card"]})
    confirmed = stripe_client.v1.setup_intents.confirm(second.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.setup_intents.cancel(second.id)


def test_automatic_payment_methods_need_a_return_url(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.setup_intents.create({"payment_method": "pm_card_visa", "confirm": True})
    assert caught.value.param == "return_url"
