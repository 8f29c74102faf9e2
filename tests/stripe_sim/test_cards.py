"""Stripe's test cards: every decline card's codes, Radar's outcomes, and the table's own consistency."""

from __future__ import annotations

import pytest
import stripe

from payops.stripe_sim import cards

DECLINES = [
    ("4000000000000002", "pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
    ("4000000000009995", "pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("4000000000009987", "pm_card_visa_chargeDeclinedLostCard", "card_declined", "lost_card"),
    ("4000000000009979", "pm_card_visa_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
    ("4000000000000069", "pm_card_chargeDeclinedExpiredCard", "expired_card", None),
    ("4000000000000127", "pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", None),
    ("4000000000000119", "pm_card_chargeDeclinedProcessingError", "processing_error", None),
    ("4000000000006975", "pm_card_visa_chargeDeclinedVelocityLimitExceeded", "card_declined", "card_velocity_exceeded"),
    ("4000000000000341", "pm_card_chargeCustomerFail", "card_declined", "generic_decline"),
    ("4100000000000019", "pm_card_radarBlock", "card_declined", "fraudulent"),
    ("4000000000004954", "pm_card_riskLevelHighest", "card_declined", "fraudulent"),
]


def pay(client: stripe.StripeClient, payment_method: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {
            "amount": 1500,
            "currency": "usd",
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "confirm": True,
        }
    )


def test_every_card_number_passes_luhn_and_is_listed_once() -> None:
    assert all(cards.luhn_ok(card.number) for card in cards.CARDS)
    assert len({card.number for card in cards.CARDS}) == len(cards.CARDS)
    assert all(card.source.startswith("https://docs.stripe.com/testing") for card in cards.CARDS)


@pytest.mark.parametrize(("number", "test_id", "code", "decline_code"), DECLINES)
def test_decline_cards_raise_their_codes(
    stripe_client: stripe.StripeClient, number: str, test_id: str, code: str, decline_code: str | None
) -> None:
    for payment_method in (
        test_id,
        stripe_client.v1.payment_methods.create(
            {"type": "card", "card": {"number": number, "exp_month": 1, "exp_year": 2040, "cvc": "314"}}  # type: ignore[typeddict-item]
        ).id,
    ):
        with pytest.raises(stripe.CardError) as caught:
            pay(stripe_client, payment_method)
        error = caught.value
        assert error.http_status == 402
        assert error.code == code
        assert error.error is not None
        assert error.error.get("decline_code") == decline_code
        assert error.error.payment_intent.status == "requires_payment_method"  # type: ignore[union-attr]
        charge = stripe_client.v1.charges.retrieve(error.error.charge)  # type: ignore[arg-type]
        assert charge.status == "failed" and charge.failure_code == code and charge.paid is False


def test_blocked_payment_outcome(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        pay(stripe_client, "pm_card_radarBlock")
    outcome = stripe_client.v1.charges.retrieve(caught.value.error.charge).outcome  # type: ignore[union-attr, arg-type]
    assert outcome is not None
    assert (outcome.type, outcome.risk_level, outcome.network_status, outcome.reason) == (
        "blocked",
        "highest",
        "not_sent_to_network",
        "highest_risk_level",
    )
    assert outcome.risk_score is not None and outcome.risk_score >= 75


def test_issuer_decline_outcome_carries_advice(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        pay(stripe_client, "pm_card_visa_chargeDeclinedInsufficientFunds")
    error = caught.value.error
    assert error is not None and error.advice_code == "try_again_later" and error.network_decline_code == "51"
    outcome = stripe_client.v1.charges.retrieve(error.charge).outcome  # type: ignore[arg-type]
    assert outcome is not None
    assert (outcome.type, outcome.network_status, outcome.reason) == (
        "issuer_declined",
        "declined_by_network",
        "insufficient_funds",
    )
    assert outcome.seller_message == "The bank returned the decline code `insufficient_funds`."


@pytest.mark.parametrize(("test_id", "level"), [("pm_card_visa", "normal"), ("pm_card_riskLevelElevated", "elevated")])
def test_authorized_payments_carry_their_risk(stripe_client: stripe.StripeClient, test_id: str, level: str) -> None:
    intent = pay(stripe_client, test_id)
    outcome = stripe_client.v1.charges.retrieve(str(intent.latest_charge)).outcome
    assert outcome is not None
    assert (outcome.type, outcome.risk_level, outcome.network_status) == ("authorized", level, "approved_by_network")
    assert outcome.risk_score is not None and (outcome.risk_score < 65) == (level == "normal")


def test_cvc_check_failure_declines_incorrect_cvc(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        pay(stripe_client, "pm_card_cvcCheckFail")
    assert caught.value.code == "incorrect_cvc"


@pytest.mark.parametrize(
    ("test_id", "brand", "country", "funding"),
    [
        ("pm_card_mastercard_prepaid", "mastercard", "US", "prepaid"),
        ("pm_card_gb", "visa", "GB", "credit"),
        ("pm_card_de", "visa", "DE", "credit"),
        ("pm_card_br", "visa", "BR", "credit"),
        ("pm_card_jcb", "jcb", "JP", "credit"),
    ],
)
def test_international_and_brand_cards_succeed(
    stripe_client: stripe.StripeClient, test_id: str, brand: str, country: str, funding: str
) -> None:
    intent = pay(stripe_client, test_id)
    details = stripe_client.v1.charges.retrieve(str(intent.latest_charge)).payment_method_details
    assert intent.status == "succeeded"
    assert details is not None and details.card is not None
    assert (details.card.brand, details.card.country, details.card.funding) == (brand, country, funding)
