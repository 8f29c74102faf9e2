"""PaymentMethods: cards from numbers, test ids and tokens; what is kept of a card; attach and detach rules."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator


def card(number: str, **extra: Any) -> dict[str, Any]:
    return {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123", **extra}}


def test_card_details_are_what_stripe_shows(stripe_client: stripe.StripeClient) -> None:
    method = stripe_client.v1.payment_methods.create(
        {**card("4000056655665556"), "billing_details": {"name": "Ann Lee", "address": {"postal_code": "94107"}}}  # type: ignore[typeddict-item]
    )
    assert method.id.startswith("pm_") and method.type == "card" and method.customer is None
    details = method.card
    assert details is not None
    assert (details.brand, details.last4, details.funding, details.country) == ("visa", "5556", "debit", "US")
    assert (details.exp_month, details.exp_year) == (12, 2034)
    assert details.checks is not None and details.checks.cvc_check == "unchecked"
    assert method.billing_details.name == "Ann Lee" and method.billing_details.address.postal_code == "94107"  # type: ignore[union-attr]
    assert "number" not in details and "cvc" not in details


def test_the_full_number_and_cvc_are_never_stored(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    stripe_client.v1.payment_methods.create(card("5555555555554444", cvc="987"))
    with sqlite3.connect(stripe_sim.store.path) as conn:
        dump = "\n".join(conn.iterdump())
    assert "5555555555554444" not in dump
    assert '"987"' not in dump


def test_fingerprint_is_stable_per_card_number(stripe_client: stripe.StripeClient) -> None:
    first = stripe_client.v1.payment_methods.create(card("4242424242424242"))
    second = stripe_client.v1.payment_methods.retrieve("pm_card_visa")
    other = stripe_client.v1.payment_methods.retrieve("pm_card_mastercard")
    assert first.card.fingerprint == second.card.fingerprint != other.card.fingerprint  # type: ignore[union-attr]
    assert first.id != second.id


def test_test_ids_and_tokens_make_fresh_payment_methods(stripe_client: stripe.StripeClient) -> None:
    one = stripe_client.v1.payment_methods.retrieve("pm_card_amex")
    two = stripe_client.v1.payment_methods.retrieve("pm_card_amex")
    token = stripe_client.v1.payment_methods.create({"type": "card", "card": {"token": "tok_mastercard"}})  # type: ignore[typeddict-item]
    assert one.id != two.id and one.card.brand == "amex"  # type: ignore[union-attr]
    assert token.card.brand == "mastercard"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "code", "param"),
    [
        ({"number": "4242424242424241"}, "incorrect_number", "card[number]"),
        ({"number": "4242abcd"}, "invalid_number", "card[number]"),
        ({"exp_month": 13}, "invalid_expiry_month", "card[exp_month]"),
        ({"exp_year": 2001}, "invalid_expiry_year", "card[exp_year]"),
        ({"cvc": "12"}, "invalid_cvc", "card[cvc]"),
    ],
)
def test_invalid_card_data_is_a_card_error(
    stripe_client: stripe.StripeClient, overrides: dict[str, Any], code: str, param: str
) -> None:
    params = card("4242424242424242")
    params["card"].update(overrides)
    with pytest.raises(stripe.CardError) as caught:
        stripe_client.v1.payment_methods.create(params)  # type: ignore[arg-type]
    assert (caught.value.code, caught.value.param, caught.value.http_status) == (code, param, 402)


def test_a_real_card_number_is_refused_in_test_mode(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        stripe_client.v1.payment_methods.create(card("4111111111111111"))
    assert caught.value.error is not None and caught.value.error.decline_code == "test_mode_live_card"


def test_attach_and_detach_emit_events(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    method = stripe_client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    assert method.customer == customer.id
    listed = stripe_client.v1.payment_methods.list({"customer": customer.id, "type": "card"}).data
    assert [m.id for m in listed] == [method.id]
    detached = stripe_client.v1.payment_methods.detach(method.id)
    assert detached.customer is None
    types = [e.type for e in stripe_client.v1.events.list().data]
    assert types[:2] == ["payment_method.detached", "payment_method.attached"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_methods.attach(method.id, {"customer": customer.id})
    assert "may not be used again" in str(caught.value.user_message)


@pytest.mark.parametrize(
    ("test_id", "code", "decline_code"),
    [
        ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", None),
    ],
)
def test_decline_cards_cannot_be_attached(
    stripe_client: stripe.StripeClient, test_id: str, code: str, decline_code: str | None
) -> None:
    customer = stripe_client.v1.customers.create()
    with pytest.raises(stripe.CardError) as caught:
        stripe_client.v1.payment_methods.attach(test_id, {"customer": customer.id})
    assert caught.value.code == code
    assert caught.value.error is not None and caught.value.error.get("decline_code") == decline_code
    assert stripe_client.v1.payment_methods.list({"customer": customer.id}).data == []


def test_decline_after_attach_card_attaches(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    method = stripe_client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    assert method.customer == customer.id


def test_attached_to_another_customer_is_refused(stripe_client: stripe.StripeClient) -> None:
    first, second = stripe_client.v1.customers.create(), stripe_client.v1.customers.create()
    method = stripe_client.v1.payment_methods.attach("pm_card_visa", {"customer": first.id})
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.payment_methods.attach(method.id, {"customer": second.id})


def test_only_card_payment_methods(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_methods.create({"type": "sepa_debit"})
    assert caught.value.param == "type"
