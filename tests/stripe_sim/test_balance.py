"""Balance and balance transactions: fees, pending until available, refunds and disputes move the balance."""

from __future__ import annotations

import stripe

from payops.stripe_sim import StripeSimulator

PAY = {"amount": 10_000, "currency": "usd", "payment_method_types": ["card"], "confirm": True}


def test_charge_transaction_with_fee_becomes_available(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa"})
    charge = stripe_client.v1.charges.retrieve(str(intent.latest_charge), {"expand": ["balance_transaction"]})
    transaction = charge.balance_transaction
    assert transaction.type == "charge" and transaction.source == charge.id  # type: ignore[union-attr]
    assert (transaction.amount, transaction.fee, transaction.net) == (10_000, 320, 9680)  # type: ignore[union-attr]
    assert transaction.fee_details[0].type == "stripe_fee" and transaction.status == "pending"  # type: ignore[union-attr]
    balance = stripe_client.v1.balance.retrieve()
    assert [(b.currency, b.amount) for b in balance.pending] == [("usd", 9680)]
    stripe_sim.advance_clock(2 * 86_400)
    assert stripe_client.v1.balance_transactions.retrieve(transaction.id).status == "available"  # type: ignore[union-attr]
    assert [(b.currency, b.amount) for b in stripe_client.v1.balance.retrieve().available] == [("usd", 9680)]


def test_bypass_pending_card_is_available_at_once(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_bypassPending"})
    assert stripe_client.v1.balance.retrieve().available[0].amount == 9680


def test_list_by_type_and_source(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa"})
    refund = stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000})
    refunds = stripe_client.v1.balance_transactions.list({"type": "refund"}).data
    assert [t.source for t in refunds] == [refund.id]
    assert len(stripe_client.v1.balance_transactions.list({"source": str(intent.latest_charge)}).data) == 1
