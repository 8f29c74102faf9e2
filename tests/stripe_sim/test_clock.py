"""The simulated clock: timestamps follow it, it only moves forward, and due work runs when it passes."""

from __future__ import annotations

import pytest
import stripe

from payops.stripe_sim import StripeSimulator
from tests.stripe_fixtures import control


def test_created_timestamps_follow_the_clock(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    before = stripe_client.v1.customers.create().created
    stripe_sim.advance_clock(86_400)
    after = stripe_client.v1.customers.create().created
    assert after - before >= 86_400


def test_the_clock_never_goes_back(stripe_sim: StripeSimulator) -> None:
    with pytest.raises(ValueError):
        stripe_sim.advance_clock(-1)


def test_control_api_advances_the_clock(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    intent = stripe_client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "payment_method_types": ["card"],
            "capture_method": "manual",
            "confirm": True,
        }
    )
    state = control(stripe_sim, "clock/advance", {"seconds": 8 * 86_400})
    assert state["offset_seconds"] == 8 * 86_400
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "canceled"


def test_clock_offset_survives_a_restart(stripe_sim: StripeSimulator) -> None:
    stripe_sim.advance_clock(3600)
    again = StripeSimulator(stripe_sim.store.path)
    try:
        assert again.clock.offset == 3600
    finally:
        again.stop()
