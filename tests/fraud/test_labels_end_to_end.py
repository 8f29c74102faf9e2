"""Fraud labels from disputes, early fraud warnings and fraud refunds, and the review window of an elevated score."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from audit.models import Decision, Mode, Outcome
from bookings.checkfront_client import CheckfrontClient
from fraud import workflow
from fraud.features import FraudFeatures
from fraud.models import Assessment, FraudHold, FraudLabel, FraudPolicy, HoldStatus, LabelSource
from fraud.scoring import fraud_policy
from fraud.training import training_set
from payments.models import PaymentCollection
from payops.executors import sweep_executions
from payops.stripe_gateway import stripe_gateway
from tests.fraud.conftest import CAREFUL, RISKY, book, pay_by_link, set_fraud_policy
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)


def pi_of(code: str) -> str:
    return PaymentCollection.objects.get(booking_code=code).payment_intent_id


def test_a_fraud_dispute_labels_the_booking_and_reaches_the_training_set(fraud_on: StandIns, settings) -> None:  # type: ignore[no-untyped-def]
    code = book(fraud_on, CAREFUL, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_createDispute")
    label = FraudLabel.objects.get(booking_code=code)
    assert (label.is_fraud, label.source, label.payment_intent_id) == (True, LabelSource.DISPUTE, pi_of(code))
    rows = training_set(now=timezone.now())
    payment_stage = Assessment.objects.get(booking_code=code, stage="payment")
    assert rows.y.tolist() == [1]  # the only labelled booking; the unlabelled ones are too recent to count
    stored = FraudFeatures.from_dict(payment_stage.features).values  # by name: jsonb keeps no key order
    assert np.array_equal(rows.X[0], stored, equal_nan=True)


def test_an_early_fraud_warning_labels_the_booking(fraud_on: StandIns) -> None:
    code = book(fraud_on, CAREFUL, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_createIssuerFraudRecord")
    label = FraudLabel.objects.get(booking_code=code)
    assert (label.is_fraud, label.source) == (True, LabelSource.EARLY_FRAUD_WARNING)


def test_a_refund_marked_as_fraud_labels_the_booking(fraud_on: StandIns) -> None:
    code = book(fraud_on, CAREFUL, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_visa")
    stripe_gateway().create_refund(
        idempotency_key="dashboard-refund-1", payment_intent_id=pi_of(code), reason="fraudulent"
    )
    fraud_on.settle()
    assert FraudLabel.objects.get(booking_code=code).source == LabelSource.REFUND


def a_day_later(decision: Decision) -> None:
    """As when the window closes: the decision is due and its last queued message long gone."""
    now = timezone.now()
    Decision.objects.filter(pk=decision.pk).update(
        next_attempt_at=now - timedelta(seconds=1), queued_at=now - timedelta(seconds=2)
    )


def elevated_only() -> FraudPolicy:
    """An admin's bands under which the risky-looking but unhurried booking is elevated, never held."""
    policy = fraud_policy()
    policy.elevated_from, policy.high_from, policy.block_from = 5, 95, 99
    policy.save()
    return policy


def test_an_elevated_payment_is_captured_when_its_window_closes_clean(fraud_on: StandIns) -> None:
    set_fraud_policy(Mode.AUTOMATE)
    elevated_only()
    code = book(fraud_on, RISKY, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_visa")
    capture = Decision.objects.get(booking_id=code, action=workflow.CAPTURE)
    assert capture.outcome == Outcome.PENDING and capture.next_attempt_at > timezone.now() + timedelta(hours=23)
    assert stripe_gateway().retrieve_payment_intent(pi_of(code)).status == "requires_capture"
    # A day later: the sweep finds it due.
    a_day_later(capture)
    sweep_executions()
    fraud_on.settle()
    capture.refresh_from_db()
    assert capture.outcome == Outcome.EXECUTED, capture.outcome_detail
    assert stripe_gateway().retrieve_payment_intent(pi_of(code)).status == "succeeded"
    assert CheckfrontClient().booking(code)["status_id"] == "PAID"


def test_a_fraud_report_before_the_window_closes_holds_instead(fraud_on: StandIns) -> None:
    set_fraud_policy(Mode.AUTOMATE)
    elevated_only()
    code = book(fraud_on, RISKY, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_visa")
    FraudLabel.objects.create(
        booking_code=code,
        payment_intent_id=pi_of(code),
        is_fraud=True,
        source="early_fraud_warning",
        source_id="issfr_1",
    )
    capture = Decision.objects.get(booking_id=code, action=workflow.CAPTURE)
    a_day_later(capture)
    sweep_executions()
    fraud_on.settle()
    capture.refresh_from_db()
    assert capture.outcome_detail["not_captured"].startswith("reported as fraud")
    assert stripe_gateway().retrieve_payment_intent(pi_of(code)).status == "requires_capture"
    assert FraudHold.objects.get(booking_code=code).status == HoldStatus.HELD
    assert Decision.objects.filter(booking_id=code, action=workflow.RELEASE).exists()
