"""Reviews nobody answers: a clean window captures, a lapsing authorization is released and the booking cancelled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import ActorType, Decision, Outcome
from bookings.checkfront_client import CheckfrontClient
from fraud import workflow
from fraud.deadlines import settle_unanswered
from fraud.models import FraudHold, FraudLabel, HoldStatus
from fraud.scoring import fraud_policy
from payments.models import PaymentCollection
from payops.models import ReviewItem, ReviewKind, ReviewStatus
from payops.stripe_gateway import stripe_gateway
from tests.fraud.conftest import RISKY, book, pay_by_link
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)


def pi_status(code: str) -> str:
    return str(
        stripe_gateway()
        .retrieve_payment_intent(PaymentCollection.objects.get(booking_code=code).payment_intent_id)
        .status
    )


def test_a_capture_nobody_reviewed_runs_when_its_window_closes_clean(fraud_on: StandIns) -> None:
    policy = fraud_policy()
    policy.elevated_from, policy.high_from, policy.block_from = 5, 95, 99
    policy.save()
    code = book(fraud_on, RISKY, seats=2, starts_in=timedelta(days=10))
    pay_by_link(fraud_on, code, "pm_card_visa")
    item = ReviewItem.objects.get(booking_id=code, action=workflow.CAPTURE, status=ReviewStatus.OPEN)
    assert settle_unanswered() == 0  # the window is still open: a person may still look
    assert pi_status(code) == "requires_capture"
    assert settle_unanswered(now=timezone.now() + timedelta(hours=policy.review_window_hours, minutes=1)) == 1
    fraud_on.settle()
    item.refresh_from_db()
    assert item.status == ReviewStatus.EXPIRED
    done = Decision.objects.get(parent=item.decision)
    assert (done.actor_type, done.action, done.outcome) == (ActorType.SYSTEM, workflow.CAPTURE, Outcome.EXECUTED)
    assert "window closed with nothing new" in done.reason
    assert pi_status(code) == "succeeded"
    assert CheckfrontClient().booking(code)["status_id"] == "PAID"


def test_a_hold_nobody_decided_is_cancelled_before_the_authorization_lapses(fraud_on: StandIns) -> None:
    code = book(fraud_on, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(fraud_on, code, "pm_card_riskLevelElevated")
    item = ReviewItem.objects.get(booking_id=code, kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)
    assert item.due_by is not None and item.due_by > timezone.now() + timedelta(days=6)
    assert settle_unanswered() == 0
    assert settle_unanswered(now=item.due_by + timedelta(seconds=1)) == 1
    fraud_on.settle()
    assert pi_status(code) == "canceled"
    assert CheckfrontClient().booking(code)["status_id"] == "STOP"
    assert FraudHold.objects.get(booking_code=code).status == HoldStatus.CANCELLED
    assert not FraudLabel.objects.filter(booking_code=code).exists()  # nobody judged it
    assert settle_unanswered(now=item.due_by + timedelta(seconds=2)) == 0  # once
