"""Disputes from Stripe's dispute cards: created with the withdrawal, evidence, submit → won/lost, close, due dates."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator

PAY: dict[str, Any] = {"amount": 8000, "currency": "usd", "payment_method_types": ["card"], "confirm": True}


def disputed(
    client: stripe.StripeClient, payment_method: str = "pm_card_createDispute", **extra: Any
) -> stripe.Dispute:
    intent = client.v1.payment_intents.create({**PAY, "payment_method": payment_method, **extra})
    return client.v1.disputes.list({"payment_intent": intent.id}).data[0]


def test_dispute_card_opens_a_chargeback(stripe_client: stripe.StripeClient) -> None:
    dispute = disputed(stripe_client)
    assert dispute.id.startswith("dp_")
    assert (dispute.status, dispute.reason, dispute.amount, dispute.is_charge_refundable) == (
        "needs_response",
        "fraudulent",
        8000,
        False,
    )
    assert dispute.evidence_details.due_by > dispute.created and dispute.evidence_details.has_evidence is False
    [withdrawal] = dispute.balance_transactions
    assert (withdrawal.amount, withdrawal.fee, withdrawal.net, withdrawal.reporting_category) == (
        -8000,
        1500,
        -9500,
        "dispute",
    )
    assert stripe_client.v1.charges.retrieve(dispute.charge).disputed is True  # type: ignore[arg-type]
    types = [e.type for e in reversed(stripe_client.v1.events.list().data)]
    assert types[-4:] == [
        "charge.succeeded",
        "payment_intent.succeeded",
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
    ]


@pytest.mark.parametrize(
    ("payment_method", "status", "reason"),
    [
        ("pm_card_createDisputeProductNotReceived", "needs_response", "product_not_received"),
        ("pm_card_createDisputeInquiry", "warning_needs_response", "general"),
    ],
)
def test_other_dispute_cards(stripe_client: stripe.StripeClient, payment_method: str, status: str, reason: str) -> None:
    dispute = disputed(stripe_client, payment_method)
    assert (dispute.status, dispute.reason) == (status, reason)


def test_a_manual_capture_is_disputed_once_captured(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create(
        {**PAY, "payment_method": "pm_card_createDispute", "capture_method": "manual"}
    )
    assert stripe_client.v1.disputes.list({"payment_intent": intent.id}).data == []
    stripe_client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 5000})
    assert stripe_client.v1.disputes.list({"payment_intent": intent.id}).data[0].amount == 5000


def test_staged_evidence_then_winning_submission(stripe_client: stripe.StripeClient) -> None:
    dispute = disputed(stripe_client)
    staged = stripe_client.v1.disputes.update(
        dispute.id, {"evidence": {"customer_email_address": "ann@example.com"}, "submit": False}
    )
    assert (staged.status, staged.evidence.customer_email_address, staged.evidence_details.has_evidence) == (
        "needs_response",
        "ann@example.com",
        True,
    )
    won = stripe_client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "winning_evidence"}, "submit": True}
    )
    assert won.status == "won" and won.evidence_details.submission_count == 1
    assert [t.amount for t in won.balance_transactions] == [-8000, 8000]
    types = [e.type for e in stripe_client.v1.events.list({"limit": 4}).data]
    assert types == [
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
        "charge.dispute.updated",
        "charge.dispute.updated",
    ]


def test_losing_evidence_loses(stripe_client: stripe.StripeClient) -> None:
    dispute = disputed(stripe_client)
    lost = stripe_client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "losing_evidence"}, "submit": True}
    )
    assert lost.status == "lost" and len(lost.balance_transactions) == 1


def test_other_evidence_waits_under_review_for_the_bank(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator
) -> None:
    dispute = disputed(stripe_client)
    submitted = stripe_client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "Delivered on time."}, "submit": True}
    )
    assert submitted.status == "under_review"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.disputes.update(dispute.id, {"evidence": {"receipt": "file_123"}})
    assert stripe_client.v1.disputes.update(dispute.id, {"metadata": {"case": "C-9"}}).metadata.to_dict() == {
        "case": "C-9"
    }
    assert stripe_sim.resolve_dispute(dispute.id, "won")["status"] == "won"


def test_close_accepts_the_loss(stripe_client: stripe.StripeClient) -> None:
    dispute = disputed(stripe_client)
    closed = stripe_client.v1.disputes.close(dispute.id)
    assert closed.status == "lost"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.disputes.close(dispute.id)
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "late"}})


def test_unanswered_dispute_is_lost_when_due(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    dispute = disputed(stripe_client)
    stripe_sim.advance_clock(dispute.evidence_details.due_by - dispute.created + 1)
    after = stripe_client.v1.disputes.retrieve(dispute.id)
    assert after.status == "lost" and after.evidence_details.past_due is True


def test_file_evidence_must_name_a_file(stripe_client: stripe.StripeClient) -> None:
    dispute = disputed(stripe_client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.disputes.update(dispute.id, {"evidence": {"receipt": "not-a-file"}})
    assert caught.value.param == "evidence[receipt]"


def test_early_fraud_warning_card(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_createIssuerFraudRecord"})
    warnings = stripe_client.v1.radar.early_fraud_warnings.list({"payment_intent": intent.id}).data
    assert [w.charge for w in warnings] == [intent.latest_charge]
    assert warnings[0].id.startswith("issfr_") and warnings[0].actionable is True
    event = stripe_client.v1.events.list({"type": "radar.early_fraud_warning.created"}).data[0]
    assert event.data.object["id"] == warnings[0].id
