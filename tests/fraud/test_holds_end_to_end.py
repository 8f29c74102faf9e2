"""Fraud holds end to end: Checkfront simulator → inbox → score → gate → Stripe stand-in and back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.models import Decision, Mode, Outcome, Route
from bookings.checkfront_client import CheckfrontClient
from fraud import workflow
from fraud.features import FEATURE_NAMES
from fraud.models import Assessment, FraudHold, FraudLabel, FraudListEntry, HoldStatus, LabelSource, Stage
from payments.collection import CONFIRM_BOOKING
from payments.models import PaymentCollection
from payops import review
from payops.models import ReviewItem, ReviewKind, ReviewStatus
from payops.stripe_gateway import stripe_gateway
from tests.fraud.conftest import CAREFUL, RISKY, book, pay_by_link, set_fraud_policy
from tests.payments.conftest import notes_on, set_payments_policy
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)


def status_in_checkfront(code: str) -> str:
    return str(CheckfrontClient().booking(code)["status_id"])


def intent_of(code: str) -> dict:
    pi_id = PaymentCollection.objects.get(booking_code=code).payment_intent_id
    return stripe_gateway().retrieve_payment_intent(pi_id).to_dict()


def held_booking(sims: StandIns) -> tuple[str, ReviewItem]:
    code = book(sims, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(sims, code, "pm_card_riskLevelElevated")
    item = ReviewItem.objects.get(booking_id=code, kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)
    return code, item


def test_a_careful_booking_is_scored_low_and_paid_as_usual(fraud_on: StandIns) -> None:
    code = book(fraud_on, CAREFUL, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_visa")
    scored = Assessment.objects.get(booking_code=code, stage=Stage.BOOKING)
    assert scored.band == "low"
    assert intent_of(code)["capture_method"] != "manual"
    assert status_in_checkfront(code) == "PAID"
    assert Decision.objects.filter(booking_id=code, action=workflow.CLEAR).count() == 2  # booking, then payment


def test_a_risky_booking_is_authorized_only_and_held_for_review(fraud_on: StandIns) -> None:
    code, item = held_booking(fraud_on)
    before = Assessment.objects.get(booking_code=code, stage=Stage.BOOKING)
    assert before.band in ("elevated", "high", "block")
    intent = intent_of(code)
    assert (intent["capture_method"], intent["status"]) == ("manual", "requires_capture")
    assert status_in_checkfront(code) == "HOLD"
    hold = FraudHold.objects.get(booking_code=code)
    assert hold.status == HoldStatus.HELD and hold.checkfront_held_at is not None
    assert any(note.startswith("Held for fraud review: score") for note in notes_on(code))
    # The score, confidence, version and reasons are on the Decision the reviewer sees.
    proposal = item.decision
    assert proposal.action == workflow.RELEASE and proposal.score is not None and proposal.score >= 70
    assert proposal.confidence is not None and proposal.model_version
    assert any("booked 3 h before the start" in r or "disposable" in r for r in proposal.reasons), proposal.reasons
    # Nothing confirmed the booking while it is held.
    assert not Decision.objects.filter(booking_id=code, action=CONFIRM_BOOKING, outcome=Outcome.EXECUTED).exists()


def test_release_captures_and_confirms(fraud_on: StandIns, approver) -> None:  # type: ignore[no-untyped-def]
    code, item = held_booking(fraud_on)
    approval = review.approve(item.pk, approver)
    fraud_on.settle()
    assert approval is not None
    approval.refresh_from_db()
    assert approval.outcome == Outcome.EXECUTED, approval.outcome_detail
    assert intent_of(code)["status"] == "succeeded"
    assert status_in_checkfront(code) == "PAID"
    assert FraudHold.objects.get(booking_code=code).status == HoldStatus.RELEASED
    label = FraudLabel.objects.get(booking_code=code)
    assert (label.is_fraud, label.source) == (False, LabelSource.REVIEW)


def test_reject_cancels_the_payment_and_the_booking(fraud_on: StandIns, reviewer) -> None:  # type: ignore[no-untyped-def]
    code, item = held_booking(fraud_on)
    rejection = review.reject(item.pk, reviewer, reason="card and IP in different countries, throwaway email")
    fraud_on.settle()
    rejection.refresh_from_db()
    assert (rejection.action, rejection.outcome) == (workflow.CANCEL, Outcome.EXECUTED), rejection.outcome_detail
    assert intent_of(code)["status"] == "canceled"
    assert status_in_checkfront(code) == "STOP"
    assert FraudHold.objects.get(booking_code=code).status == HoldStatus.CANCELLED
    assert FraudLabel.objects.get(booking_code=code).is_fraud is True


def test_a_payment_taken_then_held_is_refunded_on_rejection(fraud_on: StandIns, reviewer) -> None:  # type: ignore[no-untyped-def]
    # A careful booking (captured at once) whose card an admin has blocklisted.
    card = stripe_gateway().client.v1.payment_methods.retrieve("pm_card_mastercard").to_dict()["card"]["fingerprint"]
    FraudListEntry.objects.create(kind="card_fingerprint", value=card, action="block", note="chargebacks in May")
    code = book(fraud_on, CAREFUL, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_mastercard")
    assert intent_of(code)["status"] == "succeeded"
    assert status_in_checkfront(code) == "HOLD"  # not confirmed: the hold stopped it
    item = ReviewItem.objects.get(booking_id=code, kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)
    assert "card fingerprint on the blocklist (chargebacks in May)" in item.decision.reasons
    review.reject(item.pk, reviewer, reason="blocklisted card")
    fraud_on.settle()
    intent = intent_of(code)
    charge = stripe_gateway().retrieve_charge(intent["latest_charge"]).to_dict()
    assert charge["amount_refunded"] == charge["amount"]
    assert status_in_checkfront(code) == "STOP"


def test_every_assessment_stores_only_the_documented_features_as_numbers(fraud_on: StandIns) -> None:
    code, _ = held_booking(fraud_on)
    for assessment in Assessment.objects.filter(booking_code=code):
        assert sorted(assessment.features) == sorted(FEATURE_NAMES)  # jsonb keeps no key order
        # Numbers or absent: no text could carry an email, name, address or card into training.
        assert all(v is None or type(v) in (int, float) for v in assessment.features.values())


def test_a_block_the_gate_would_queue_is_a_hold_for_a_person_instead(stand_ins: StandIns) -> None:
    set_payments_policy(Mode.AUTOMATE)
    set_fraud_policy(Mode.AUTOMATE, automate_min_confidence=0.9)  # the prior's 0.3 is not enough to block alone
    code = book(stand_ins, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(stand_ins, code, "pm_card_riskLevelElevated")
    assert Assessment.objects.get(booking_code=code, stage=Stage.PAYMENT).band == "block"
    assert not Decision.objects.filter(booking_id=code, action=workflow.BLOCK).exists()
    item = ReviewItem.objects.get(booking_id=code, kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)
    assert item.action == workflow.RELEASE
    assert status_in_checkfront(code) == "HOLD"


def test_an_automatic_block_of_a_taken_payment_refunds_it_and_teaches_the_model_nothing(stand_ins: StandIns) -> None:
    set_payments_policy(Mode.AUTOMATE)
    set_fraud_policy(Mode.AUTOMATE, automate_max_amount_minor=1_000_000)
    card = stripe_gateway().client.v1.payment_methods.retrieve("pm_card_mastercard").to_dict()["card"]["fingerprint"]
    FraudListEntry.objects.create(kind="card_fingerprint", value=card, action="block")
    code = book(stand_ins, CAREFUL, seats=2, starts_in=timedelta(days=10))
    pay_by_link(stand_ins, code, "pm_card_mastercard")
    blocked = Decision.objects.get(booking_id=code, action=workflow.BLOCK)
    assert blocked.outcome == Outcome.EXECUTED, blocked.outcome_detail
    charge = stripe_gateway().retrieve_charge(intent_of(code)["latest_charge"]).to_dict()
    assert charge["amount_refunded"] == charge["amount"]
    assert status_in_checkfront(code) == "STOP"
    assert not FraudLabel.objects.filter(booking_code=code).exists()


def test_monitor_mode_scores_but_never_holds(stand_ins: StandIns) -> None:
    set_payments_policy(Mode.AUTOMATE)
    set_fraud_policy(Mode.MONITOR)
    code = book(stand_ins, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(stand_ins, code, "pm_card_riskLevelElevated")
    assert intent_of(code)["status"] == "succeeded"  # automatic capture: monitor mode changes nothing
    assert status_in_checkfront(code) == "PAID"
    fraud = Decision.objects.filter(booking_id=code, workflow="fraud")
    assert fraud.exists() and set(fraud.values_list("route", flat=True)) == {Route.LOG}
    assert not FraudHold.objects.filter(booking_code=code).exists()


def test_automate_mode_blocks_a_very_high_score_without_a_person(stand_ins: StandIns) -> None:
    set_payments_policy(Mode.AUTOMATE)
    set_fraud_policy(Mode.AUTOMATE)
    code = book(stand_ins, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(stand_ins, code, "pm_card_riskLevelElevated")
    blocked = Decision.objects.get(booking_id=code, action=workflow.BLOCK)
    assert (blocked.route, blocked.outcome) == (Route.EXECUTE, Outcome.EXECUTED), blocked.outcome_detail
    assert blocked.route_reason == "automate mode, within every threshold (the action's own risk 2)"
    assert intent_of(code)["status"] == "canceled"
    assert status_in_checkfront(code) == "STOP"
    # The model's own decision is not a label: it would learn from itself.
    assert not FraudLabel.objects.filter(booking_code=code).exists()
