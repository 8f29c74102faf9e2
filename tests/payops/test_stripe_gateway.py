"""The Stripe gateway against the local stand-in over real HTTP: writes, keys, typed errors, retries."""

from __future__ import annotations

from typing import Any

import pytest

from payops.stripe_gateway import (
    CardDeclined,
    StripeConfig,
    StripeGateway,
    StripeIdempotencyConflict,
    StripeInvalidRequest,
    StripeNotConfigured,
    StripeNotFound,
    StripeOutcomeUnknown,
    StripeUnavailable,
)
from tests.payops.stripe_flow import pay
from tests.stripe_fixtures import TEST_API_KEY

# Stripe's table of declining test cards: (payment method, error code, decline code).
DECLINING_CARDS = [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card"),
    ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", ""),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", ""),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", ""),
    ("pm_card_chargeDeclinedFraudulent", "card_declined", "fraudulent"),
]


def test_a_card_payment_succeeds_with_its_booking_metadata(gateway: StripeGateway) -> None:
    customer = gateway.create_customer(idempotency_key="cus-ann", email="ann@example.com", name="Ann Lee")
    intent = pay(gateway, "pi-ann", customer_id=customer.id, metadata={"checkfront_booking_id": "BKNG-0101"})
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 12900, "usd")
    assert intent.amount_received == 12900
    assert intent.customer == customer.id
    assert intent.metadata["checkfront_booking_id"] == "BKNG-0101"
    charge = gateway.retrieve_charge(intent.latest_charge)
    assert charge.paid and charge.captured
    assert charge.payment_method_details.card.last4 == "4242"


@pytest.mark.parametrize(("payment_method", "code", "decline_code"), DECLINING_CARDS)
def test_each_declining_test_card_raises_its_codes(
    gateway: StripeGateway, payment_method: str, code: str, decline_code: str
) -> None:
    with pytest.raises(CardDeclined) as caught:
        pay(gateway, f"pi-{payment_method}", payment_method)
    declined = caught.value
    assert (declined.http_status, declined.code, declined.decline_code) == (402, code, decline_code)
    assert declined.reason == (decline_code or code)
    assert declined.payment_intent_id.startswith("pi_")
    assert declined.charge_id.startswith("ch_")
    intent = gateway.retrieve_payment_intent(declined.payment_intent_id)
    assert intent.status == "requires_payment_method"
    assert (intent.last_payment_error.code, intent.last_payment_error.get("decline_code", "")) == (
        code,
        decline_code,
    )


def test_the_same_key_twice_makes_one_object(gateway: StripeGateway) -> None:
    first = gateway.create_customer(idempotency_key="cus-once", email="once@example.com")
    second = gateway.create_customer(idempotency_key="cus-once", email="once@example.com")
    assert first.id == second.id
    assert [c.id for c in gateway.find_customers(email="once@example.com")] == [first.id]


def test_the_same_key_for_a_payment_charges_once(gateway: StripeGateway) -> None:
    first = pay(gateway, "pi-once")
    second = pay(gateway, "pi-once")
    assert first.id == second.id
    assert first.latest_charge == second.latest_charge


def test_a_key_reused_for_another_request_is_refused(gateway: StripeGateway) -> None:
    gateway.create_customer(idempotency_key="cus-reused", email="a@example.com")
    with pytest.raises(StripeIdempotencyConflict):
        gateway.create_customer(idempotency_key="cus-reused", email="b@example.com")
    assert gateway.find_customers(email="b@example.com") == []


def test_every_write_needs_a_key_and_a_sound_amount_before_anything_is_sent(gateway: StripeGateway) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        gateway.create_customer(idempotency_key="", email="nokey@example.com")
    with pytest.raises(ValueError, match="positive integer"):
        gateway.create_payment_intent(idempotency_key="pi-zero", amount_minor=0, currency="usd")
    with pytest.raises(ValueError, match="three-letter"):
        gateway.create_payment_intent(idempotency_key="pi-cur", amount_minor=100, currency="dollars")
    assert gateway.find_customers(email="nokey@example.com") == []


def test_manual_capture_of_part_of_an_authorization(gateway: StripeGateway) -> None:
    intent = pay(gateway, "pi-hold", manual_capture=True)
    assert (intent.status, intent.amount_capturable) == ("requires_capture", 12900)
    captured = gateway.capture_payment_intent(intent.id, idempotency_key="cap-hold", amount_minor=10000)
    assert (captured.status, captured.amount_received) == ("succeeded", 10000)
    with pytest.raises(StripeInvalidRequest) as caught:
        gateway.capture_payment_intent(intent.id, idempotency_key="cap-again")
    assert caught.value.code == "payment_intent_unexpected_state"


def test_cancel_releases_an_authorization_and_a_cancelled_payment_cannot_be_captured(gateway: StripeGateway) -> None:
    intent = pay(gateway, "pi-cancel", manual_capture=True)
    cancelled = gateway.cancel_payment_intent(intent.id, idempotency_key="cancel-1", reason="fraudulent")
    assert (cancelled.status, cancelled.cancellation_reason) == ("canceled", "fraudulent")
    with pytest.raises(StripeInvalidRequest):
        gateway.capture_payment_intent(intent.id, idempotency_key="cap-cancelled")


def test_partial_refunds_add_up_and_over_refunding_is_refused(gateway: StripeGateway) -> None:
    intent = pay(gateway, "pi-refund")
    first = gateway.create_refund(idempotency_key="re-1", payment_intent_id=intent.id, amount_minor=2900)
    second = gateway.create_refund(
        idempotency_key="re-2", payment_intent_id=intent.id, amount_minor=5000, reason="requested_by_customer"
    )
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert first.id != second.id
    assert gateway.retrieve_charge(intent.latest_charge).amount_refunded == 7900
    with pytest.raises(StripeInvalidRequest):
        gateway.create_refund(idempotency_key="re-3", payment_intent_id=intent.id, amount_minor=5001)
    rest = gateway.create_refund(idempotency_key="re-rest", payment_intent_id=intent.id)
    assert rest.amount == 5000
    assert gateway.retrieve_charge(intent.latest_charge).refunded is True


def test_an_unknown_object_is_not_found(gateway: StripeGateway) -> None:
    with pytest.raises(StripeNotFound) as caught:
        gateway.retrieve_payment_intent("pi_doesnotexist")
    assert caught.value.http_status == 404
    assert caught.value.request_id


def test_a_refused_key_is_an_auth_error_and_no_key_is_not_configured(stripe_api: Any) -> None:
    from payops.stripe_gateway import StripeAuthError

    wrong = StripeGateway(StripeConfig(api_key="sk_live_anykeyofanothermodewillberefused00", api_base=stripe_api.url))
    with pytest.raises(StripeAuthError):
        wrong.find_customers(email="x@example.com")
    with pytest.raises(StripeNotConfigured):
        StripeGateway(StripeConfig(api_key="", api_base=stripe_api.url)).find_customers(email="x@example.com")


def test_rate_limits_are_retried_with_backoff_under_the_same_key(
    gateway: StripeGateway, stripe_api: Any, sleeps: list[float]
) -> None:
    stripe_api.set_faults({"status": 429, "count": 2, "method": "POST"})
    customer = gateway.create_customer(idempotency_key="cus-limited", email="limited@example.com")
    assert customer.id.startswith("cus_")
    assert len(sleeps) == 2
    assert 0.005 <= sleeps[0] <= 0.01 and 0.01 <= sleeps[1] <= 0.02  # doubling, jitter takes off up to half
    assert [c.id for c in gateway.find_customers(email="limited@example.com")] == [customer.id]


def test_a_timeout_after_stripe_acted_is_retried_and_charges_once(stripe_api: Any, sleeps: list[float]) -> None:
    # The stand-in holds the answer past the client's timeout but makes the
    # payment: the retry with the same key must get that payment back.
    impatient = StripeGateway(
        StripeConfig(api_key=TEST_API_KEY, api_base=stripe_api.url, timeout_seconds=0.5, max_attempts=3),
        sleep=sleeps.append,
    )
    stripe_api.set_faults({"stall_seconds": 1.5, "count": 1, "path_prefix": "/v1/payment_intents"})
    intent = pay(impatient, "pi-timeout")
    assert intent.status == "succeeded"
    assert len(sleeps) == 1
    listed = impatient.client.v1.payment_intents.list({"limit": 100}).data
    assert [pi.id for pi in listed] == [intent.id]


def test_a_write_that_keeps_failing_with_5xx_has_an_unknown_outcome(
    gateway: StripeGateway, stripe_api: Any, sleeps: list[float]
) -> None:
    # Stripe may have acted before its 500, and replays a stored 500 for the
    # key's 24 hours: neither "retry later" nor "it failed" is true.
    stripe_api.set_faults({"status": 500})
    with pytest.raises(StripeOutcomeUnknown) as caught:
        gateway.create_customer(idempotency_key="cus-down", email="down@example.com")
    assert not caught.value.retryable
    assert caught.value.http_status == 500
    assert len(sleeps) == 2  # three attempts
    stripe_api.clear_faults()
    assert gateway.find_customers(email="down@example.com") == []


def test_a_read_that_keeps_failing_with_5xx_is_worth_trying_later(
    gateway: StripeGateway, stripe_api: Any, sleeps: list[float]
) -> None:
    stripe_api.set_faults({"status": 503})
    with pytest.raises(StripeUnavailable) as caught:
        gateway.find_customers(email="later@example.com")
    assert caught.value.retryable
    assert len(sleeps) == 2


def test_stripe_saying_do_not_retry_is_obeyed(gateway: StripeGateway, stripe_api: Any, sleeps: list[float]) -> None:
    stripe_api.set_faults({"status": 503, "count": 1, "should_retry": False})
    with pytest.raises(StripeOutcomeUnknown):
        gateway.create_customer(idempotency_key="cus-noretry", email="noretry@example.com")
    assert sleeps == []


def test_a_declined_card_is_never_retried_by_the_gateway(gateway: StripeGateway, sleeps: list[float]) -> None:
    with pytest.raises(CardDeclined):
        pay(gateway, "pi-declined-once", "pm_card_chargeDeclinedInsufficientFunds")
    assert sleeps == []


def test_a_card_scripted_to_fail_twice_then_succeeds_on_the_third_confirm(
    gateway: StripeGateway, stripe_api: Any
) -> None:
    customer = gateway.create_customer(idempotency_key="cus-dunning", email="dunning@example.com")
    setup = gateway.create_setup_intent(
        idempotency_key="seti-dunning", customer_id=customer.id, payment_method_id="pm_card_visa", confirm=True
    )
    card = setup.payment_method
    stripe_api.script_declines(card, ["insufficient_funds", "do_not_honor"], network_advice_code="02")
    with pytest.raises(CardDeclined) as caught:
        pay(gateway, "pi-dunning-1", card, customer_id=customer.id, off_session=True)
    first = caught.value
    assert (first.decline_code, first.network_advice_code) == ("insufficient_funds", "02")
    with pytest.raises(CardDeclined) as caught:
        gateway.confirm_payment_intent(
            first.payment_intent_id, idempotency_key="retry-2", payment_method_id=card, off_session=True
        )
    assert caught.value.decline_code == "do_not_honor"
    retried = gateway.confirm_payment_intent(
        first.payment_intent_id, idempotency_key="retry-3", payment_method_id=card, off_session=True
    )
    assert (retried.id, retried.status) == (first.payment_intent_id, "succeeded")
