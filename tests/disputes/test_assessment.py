"""The loss-risk rules: each fact moves the score the documented way and says so; confidence follows what is known."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from bookings.models import Booking
from disputes.assessment import MAX_CONFIDENCE, RULES_VERSION, assess
from disputes.facts import DisputeFacts, Payment, Policy
from disputes.models import DisputeCase


def payment(**changes: object) -> Payment:
    values: dict[str, object] = {
        "charge_id": "ch_1",
        "payment_intent_id": "pi_1",
        "at": timezone.now(),
        "amount_minor": 10_000,
        "currency": "usd",
        "status": "succeeded",
        "refunded_minor": 0,
        "card": "Visa ending 0259",
        "checks": {"cvc_check": "pass"},
        "three_d_secure": "",
        "risk_level": "normal",
        "receipt_url": "",
        "receipt_email": "",
        "disputed": True,
    }
    return Payment(**{**values, **changes})  # type: ignore[arg-type]


def facts(reason: str = "fraudulent", *, pay: Payment | None = None, **booking: object) -> DisputeFacts:
    case = DisputeCase(dispute_id="dp_1", charge_id="ch_1", reason=reason, amount_minor=10_000, currency="usd")
    fields: dict[str, object] = {
        "code": "B-1",
        "status": "PAID",
        "currency": "usd",
        "total_minor": 10_000,
        "customer_email": "a@example.com",
        "source_ip": "81.2.69.160",
        "start_at": timezone.now() - timedelta(days=2),
    }
    return DisputeFacts(
        case=case,
        booking=Booking(**{**fields, **booking}),
        customer=None,
        payments=[pay or payment()],
        refunds=[],
        desk_transactions=[],
        notes=[],
        policy=None,
        earlier_paid_bookings=2,
        earlier_disputes=0,
    )


def test_strong_fraud_evidence_scores_low_with_its_reasons() -> None:
    risk = assess(facts(pay=payment(three_d_secure="authenticated")))
    assert risk.version == RULES_VERSION
    assert risk.score == 5  # 50 −10 CVC −25 3DS −5 IP −10 history −15 delivered, floored at 5
    assert "the cardholder completed 3D Secure (the liability shifts to the issuer) (−25)" in risk.reasons
    assert "the customer has 2 earlier paid booking(s) and no disputes (−10)" in risk.reasons
    assert risk.confidence == MAX_CONFIDENCE  # every check had something to go on


def test_weak_fraud_evidence_scores_high() -> None:
    pay = payment(checks={"cvc_check": "fail"}, risk_level="highest")
    risk = assess(facts(pay=pay, source_ip=None, status="STOP", status_name="Cancelled"))
    assert risk.score == 95  # 50 +15 CVC fail +5 no IP −10 history +15 Radar +25 cancelled, capped at 95
    assert "card check failed: cvc_check (+15)" in risk.reasons
    assert "Stripe Radar rated the payment highest risk (+15)" in risk.reasons


def test_a_duplicate_claim_that_looks_true_is_flagged_for_a_refund() -> None:
    second = payment(charge_id="ch_2", disputed=False)
    f = facts("duplicate")
    f.payments.append(second)
    risk = assess(f)
    assert any("it may really be a duplicate (consider a refund)" in r for r in risk.reasons)
    assert risk.score > 50


def test_unknown_facts_lower_the_confidence_and_say_so() -> None:
    f = facts("product_not_received")
    bare = DisputeFacts(
        case=f.case,
        booking=None,
        customer=None,
        payments=[],
        refunds=[],
        desk_transactions=[],
        notes=[],
        policy=Policy(words="Full refund up to 7 days before.", version="policy-1@x"),
        earlier_paid_bookings=0,
        earlier_disputes=0,
    )
    risk = assess(bare)
    assert risk.confidence == 0 and risk.score == 50
    assert "3 of 3 checks for a product_not_received dispute had nothing to go on" in risk.reasons
