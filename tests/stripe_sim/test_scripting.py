"""Scripted outcomes: a card fails N times then works (by PaymentMethod or fingerprint), advice codes, risk."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator
from tests.stripe_fixtures import control

PAY: dict[str, Any] = {"amount": 3000, "currency": "usd", "payment_method_types": ["card"], "confirm": True}


def saved_card(client: stripe.StripeClient, test_id: str = "pm_card_visa") -> tuple[str, str]:
    customer = client.v1.customers.create()
    method = client.v1.payment_methods.attach(test_id, {"customer": customer.id})
    return customer.id, method.id


def charge(client: stripe.StripeClient, customer: str, method: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {**PAY, "customer": customer, "payment_method": method, "off_session": True}
    )


def decline_code(client: stripe.StripeClient, customer: str, method: str) -> str | None:
    with pytest.raises(stripe.CardError) as caught:
        charge(client, customer, method)
    return caught.value.error.decline_code if caught.value.error else None


def test_fails_twice_then_succeeds(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    customer, method = saved_card(stripe_client)
    stripe_sim.script_declines(method, ["insufficient_funds", "do_not_honor"])
    assert decline_code(stripe_client, customer, method) == "insufficient_funds"
    assert decline_code(stripe_client, customer, method) == "do_not_honor"
    assert charge(stripe_client, customer, method).status == "succeeded"


def test_a_retry_on_the_same_intent_takes_the_next_outcome(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    customer, method = saved_card(stripe_client)
    stripe_sim.script_declines(method, ["try_again_later"])
    with pytest.raises(stripe.CardError) as caught:
        charge(stripe_client, customer, method)
    intent_id = caught.value.error.payment_intent.id  # type: ignore[union-attr]
    retried = stripe_client.v1.payment_intents.confirm(intent_id, {"payment_method": method, "off_session": True})
    assert retried.status == "succeeded"


def test_scripting_by_fingerprint_covers_new_payment_methods(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    customer, method = saved_card(stripe_client, "pm_card_mastercard")
    fingerprint = stripe_client.v1.payment_methods.retrieve(method).card.fingerprint  # type: ignore[union-attr]
    stripe_sim.script_declines(str(fingerprint), ["do_not_honor"], network_advice_code="03")
    fresh = stripe_client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer}).id
    with pytest.raises(stripe.CardError) as caught:
        charge(stripe_client, customer, fresh)
    error = caught.value.error
    assert error is not None and (error.decline_code, error.network_advice_code, error.network_decline_code) == (
        "do_not_honor",
        "03",
        "05",
    )
    outcome = stripe_client.v1.charges.retrieve(str(error.charge)).outcome
    assert outcome is not None and (outcome.network_advice_code, outcome.reason) == ("03", "do_not_honor")
    assert charge(stripe_client, customer, method).status == "succeeded"


@pytest.mark.parametrize(
    ("code", "error_code", "advice"),
    [
        ("authentication_required", "card_declined", None),
        ("pickup_card", "card_declined", "do_not_try_again"),
        ("revocation_of_authorization", "card_declined", "do_not_try_again"),
        ("expired_card", "expired_card", "confirm_card_data"),
    ],
)
def test_any_stripe_decline_code_can_be_scripted(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, code: str, error_code: str, advice: str | None
) -> None:
    customer, method = saved_card(stripe_client)
    stripe_sim.script_declines(method, [code])
    with pytest.raises(stripe.CardError) as caught:
        charge(stripe_client, customer, method)
    assert caught.value.code == error_code
    assert caught.value.error is not None and caught.value.error.get("advice_code") == advice


def test_unknown_decline_codes_are_refused(stripe_sim: StripeSimulator) -> None:
    with pytest.raises(ValueError, match="Unknown decline code"):
        stripe_sim.script_declines("pm_x", ["made_up_code"])


def test_control_api_takes_form_encoded_codes(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    customer, method = saved_card(stripe_client)
    body = b"codes[]=insufficient_funds&codes[]=do_not_try_again&advice_code=do_not_try_again"
    queued = control(stripe_sim, f"payment_methods/{method}/declines", body)["queue"]
    assert [q["decline_code"] for q in queued] == ["insufficient_funds", "do_not_try_again"]
    assert {q["advice_code"] for q in queued} == {"do_not_try_again"}
    assert decline_code(stripe_client, customer, method) == "insufficient_funds"


def test_scripted_risk_for_the_next_charge(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    stripe_sim.script_risk("elevated", score=72)
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa"})
    outcome = stripe_client.v1.charges.retrieve(str(intent.latest_charge)).outcome
    assert outcome is not None and (outcome.risk_level, outcome.risk_score, outcome.type) == (
        "elevated",
        72,
        "authorized",
    )
    normal = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa"})
    assert stripe_client.v1.charges.retrieve(str(normal.latest_charge)).outcome.risk_level == "normal"  # type: ignore[union-attr]


def test_highest_risk_is_blocked_unless_the_rule_is_off(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    stripe_sim.script_risk("highest")
    with pytest.raises(stripe.CardError) as caught:
        stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa"})
    assert caught.value.error is not None and caught.value.error.decline_code == "fraudulent"
    stripe_sim.set_radar(block_highest_risk=False)
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_riskLevelHighest"})
    outcome = stripe_client.v1.charges.retrieve(str(intent.latest_charge)).outcome
    assert intent.status == "succeeded" and outcome is not None and outcome.risk_level == "highest"
    with pytest.raises(stripe.CardError):
        stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_radarBlock"})
