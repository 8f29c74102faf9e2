"""Refunds: partial and several, never more than was captured, refused when disputed or uncaptured, async outcomes."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator

PAY: dict[str, Any] = {"amount": 10_000, "currency": "usd", "payment_method_types": ["card"], "confirm": True}


def paid(client: stripe.StripeClient, payment_method: str = "pm_card_visa", **extra: Any) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create({**PAY, "payment_method": payment_method, **extra})


def test_partial_refunds_add_up_to_the_charge(stripe_client: stripe.StripeClient) -> None:
    intent = paid(stripe_client)
    first = stripe_client.v1.refunds.create(
        {"payment_intent": intent.id, "amount": 3000, "reason": "requested_by_customer"}
    )
    assert (first.status, first.amount, first.reason, first.charge) == (
        "succeeded",
        3000,
        "requested_by_customer",
        intent.latest_charge,
    )
    second = stripe_client.v1.refunds.create(
        {"charge": str(intent.latest_charge), "amount": 2000, "metadata": {"why": "late"}}
    )
    charge = stripe_client.v1.charges.retrieve(str(intent.latest_charge), {"expand": ["refunds"]})
    assert (charge.amount_refunded, charge.refunded) == (5000, False)
    assert [r.id for r in charge.refunds.data] == [second.id, first.id]  # type: ignore[union-attr]
    rest = stripe_client.v1.refunds.create({"payment_intent": intent.id})
    assert rest.amount == 5000
    charge = stripe_client.v1.charges.retrieve(str(intent.latest_charge))
    assert (charge.amount_refunded, charge.refunded) == (10_000, True)


def test_over_refund_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = paid(stripe_client)
    stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 6000})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 4001})
    assert (caught.value.code, caught.value.param) == ("amount_too_large", "amount")
    assert caught.value.user_message == "Refund amount ($40.01) is greater than unrefunded amount on charge ($40.00)"
    stripe_client.v1.refunds.create({"payment_intent": intent.id})
    with pytest.raises(stripe.InvalidRequestError) as again:
        stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 1})
    assert again.value.code == "charge_already_refunded"


def test_refund_of_a_partial_capture_is_limited_to_what_was_captured(stripe_client: stripe.StripeClient) -> None:
    intent = paid(stripe_client, capture_method="manual")
    stripe_client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 4000})
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 4001})
    assert stripe_client.v1.refunds.create({"payment_intent": intent.id}).amount == 4000


def test_refund_of_an_uncaptured_payment_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = paid(stripe_client, capture_method="manual")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.refunds.create({"payment_intent": intent.id})
    assert caught.value.param == "payment_intent"


def test_refund_needs_a_payment(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.refunds.create({"amount": 100})
    assert caught.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as failed:
        stripe_client.v1.refunds.create(
            {"payment_intent": stripe_client.v1.payment_intents.create({**PAY, "confirm": False}).id}
        )
    assert failed.value.param == "payment_intent"


def test_refund_of_a_disputed_charge_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = paid(stripe_client, "pm_card_createDispute")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.refunds.create({"payment_intent": intent.id})
    assert caught.value.code == "charge_disputed"


def test_an_inquiry_can_still_be_refunded(stripe_client: stripe.StripeClient) -> None:
    intent = paid(stripe_client, "pm_card_createDisputeInquiry")
    assert stripe_client.v1.refunds.create({"payment_intent": intent.id}).status == "succeeded"


def test_refund_events_and_balance(stripe_client: stripe.StripeClient) -> None:
    intent = paid(stripe_client)
    refund = stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 2500})
    types = [e.type for e in stripe_client.v1.events.list({"limit": 2}).data]
    assert types == ["charge.refunded", "refund.created"]
    transaction = stripe_client.v1.balance_transactions.retrieve(str(refund.balance_transaction))
    assert (transaction.type, transaction.amount, transaction.fee, transaction.source) == (
        "refund",
        -2500,
        0,
        refund.id,
    )
    updated = stripe_client.v1.refunds.update(refund.id, {"metadata": {"ticket": "T-1"}})
    assert updated.metadata.to_dict() == {"ticket": "T-1"}
    assert [r.id for r in stripe_client.v1.refunds.list({"payment_intent": intent.id}).data] == [refund.id]


def test_pending_refund_settles_later(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    intent = paid(stripe_client, "pm_card_pendingRefund")
    refund = stripe_client.v1.refunds.create({"payment_intent": intent.id})
    assert refund.status == "pending"
    stripe_sim.advance_clock(30)
    assert stripe_client.v1.refunds.retrieve(refund.id).status == "succeeded"
    assert stripe_client.v1.events.list({"limit": 1}).data[0].type == "charge.refund.updated"


def test_refund_fail_card_fails_later(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    intent = paid(stripe_client, "pm_card_refundFail")
    refund = stripe_client.v1.refunds.create({"payment_intent": intent.id})
    assert refund.status == "succeeded"
    stripe_sim.advance_clock(30)
    failed = stripe_client.v1.refunds.retrieve(refund.id)
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    assert failed.failure_balance_transaction is not None
    assert stripe_client.v1.charges.retrieve(str(intent.latest_charge)).amount_refunded == 0
    types = [e.type for e in stripe_client.v1.events.list({"limit": 3}).data]
    assert types == ["charge.refund.updated", "refund.failed", "refund.updated"]


def test_any_refund_can_be_failed_by_control(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    intent = paid(stripe_client)
    refund = stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000})
    assert stripe_sim.fail_refund(refund.id)["status"] == "failed"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 10_001})
    assert stripe_client.v1.refunds.create({"payment_intent": intent.id}).amount == 10_000
