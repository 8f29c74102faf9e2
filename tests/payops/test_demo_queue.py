"""The demo's review queue is real work: what each demo visitor causes, queued and answered through the stand-ins."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone

from audit.models import Decision, Outcome
from bookings.checkfront_client import CheckfrontClient
from dunning import actions as dunning_actions
from fraud import workflow as fraud_workflow
from fraud.models import PaymentSignal
from payments.models import PaymentCollection
from payops import review
from payops.demo_customers import RISKY_CARD, VISITS, Behaviour, DemoCustomers, Visit, pay_one
from payops.demo_data import demo_policies
from payops.executors import execute_decision, executor_for
from payops.models import ReviewItem, ReviewKind, ReviewStatus
from payops.stripe_gateway import stripe_gateway
from tests.payments.conftest import collection_of, new_booking
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

FRAUD_ATTEMPT, DEPOSIT_SHORT, RETURNING_GROUP, BLOCKED_ATTEMPT = VISITS[:4]


@pytest.fixture
def demo(stand_ins: StandIns) -> StandIns:  # noqa: F811 - the fixture imported above
    """The stand-ins under the demo's policies, as seed_demo sets them."""
    demo_policies()
    return stand_ins


def customers() -> DemoCustomers:
    """Demo customers who pay, and book only when a test says so."""
    return DemoCustomers(rng=random.Random(5), per_round=2, visit_chance=0)


def one_open_item(kind: str) -> ReviewItem:
    [item] = ReviewItem.objects.filter(kind=kind, status=ReviewStatus.OPEN)
    assert executor_for(item.action) is not None, item.action
    return item


def approved(item: ReviewItem, user: User, sims: StandIns) -> Decision:
    child = review.approve(item.pk, user)
    sims.settle()
    assert child is not None
    child.refresh_from_db()
    assert child.outcome == Outcome.EXECUTED, child.outcome_detail
    return child


def status_in_checkfront(code: str) -> str:
    return str(CheckfrontClient().booking(code)["status_id"])


def intent_of(code: str) -> dict[str, Any]:
    return stripe_gateway().retrieve_payment_intent(collection_of(code).payment_intent_id).to_dict()


def visited(people: DemoCustomers, visit: Visit, sims: StandIns) -> str:
    """The visitor books, PayOps sends the pay link, and (next round) they pay it."""
    code = people.visit(visit).split(":")[0]
    sims.settle()
    people.round()
    sims.settle()
    return code


def test_the_first_round_books_the_first_visitor_and_a_returning_one_waits_for_a_past_customer(demo: StandIns) -> None:
    people = DemoCustomers(rng=random.Random(5), per_round=2, visit_chance=0.3)
    people.opening = [RETURNING_GROUP, FRAUD_ATTEMPT]
    [said] = people.round()
    assert said.endswith(FRAUD_ATTEMPT.name)
    assert people.opening == [RETURNING_GROUP]  # nobody has paid yet, so nobody can come back
    demo.settle()
    code = said.split(":")[0]
    assert people.planned == {code: RISKY_CARD}
    assert [line.split(":")[0] for line in people.round() if RISKY_CARD.name in line] == [code]
    assert people.planned == {}


def test_a_fraud_attempt_is_held_for_review_and_releasing_it_captures_and_confirms(
    demo: StandIns, approver: User
) -> None:
    code = visited(customers(), FRAUD_ATTEMPT, demo)
    item = one_open_item(ReviewKind.FRAUD_HOLD)
    assert (item.booking_id, item.action) == (code, fraud_workflow.RELEASE)
    assert item.decision.score is not None and item.decision.score >= 70
    assert any("disposable" in r or "before the start" in r for r in item.decision.reasons), item.decision.reasons
    assert intent_of(code)["status"] == "requires_capture"
    assert status_in_checkfront(code) == "HOLD"

    approved(item, approver, demo)
    assert intent_of(code)["status"] == "succeeded"
    assert status_in_checkfront(code) == "PAID"


def test_a_returning_customers_group_retry_waits_for_a_person_and_runs_at_its_time_once_approved(
    demo: StandIns,
    approver: User,
) -> None:
    first = new_booking(demo)
    assert pay_one(collection_of(first), random.Random(1), Behaviour("pays", 1, "tok_visa")) == "pays"
    demo.settle()
    # They paid last week, not minutes ago: a second booking within the hour with a failed
    # charge is a velocity pattern the fraud prior holds, which is not this test's story.
    PaymentSignal.objects.update(at=F("at") - timedelta(days=8))
    people = customers()
    code = people.visit(RETURNING_GROUP).split(":")[0]
    demo.settle()
    item = one_open_item(ReviewKind.RETRY)
    assert (item.booking_id, item.action) == (code, dunning_actions.RETRY)
    assert "above the automation limit 25000" in item.decision.route_reason
    assert intent_of(code)["status"] == "requires_payment_method"

    # The approval keeps the planned time (hours away, in local daytime); when it comes, the card is charged.
    child = review.approve(item.pk, approver)
    demo.settle()
    assert child is not None and child.next_attempt_at is not None and child.next_attempt_at > timezone.now()
    Decision.objects.filter(pk=child.pk).update(next_attempt_at=timezone.now())
    assert execute_decision(child.pk) == Outcome.EXECUTED
    demo.settle()
    assert intent_of(code)["status"] == "succeeded"
    assert status_in_checkfront(code) == "PAID"


def test_a_card_radar_blocks_is_escalated_to_a_person(demo: StandIns, reviewer: User) -> None:
    code = visited(customers(), BLOCKED_ATTEMPT, demo)
    item = one_open_item(ReviewKind.ESCALATION)
    assert (item.booking_id, item.action) == (code, dunning_actions.ESCALATE)
    assert intent_of(code)["last_payment_error"]["decline_code"] == "fraudulent"
    assert status_in_checkfront(code) == "HOLD"  # held while a person looks
    approved(item, reviewer, demo)


def test_a_part_paid_booking_whose_card_fails_too_late_to_hold_is_a_cancellation_for_a_person(
    demo: StandIns,
    reviewer: User,
) -> None:
    code = visited(customers(), DEPOSIT_SHORT, demo)
    assert status_in_checkfront(code) == "PART"
    item = one_open_item(ReviewKind.CANCELLATION)
    assert item.booking_id == code
    assert any("part of the booking is already paid" in r for r in item.decision.reasons), item.decision.reasons

    approved(item, reviewer, demo)
    assert intent_of(code)["status"] == "canceled"
    assert status_in_checkfront(code) == "STOP"
    assert PaymentCollection.objects.get(booking_code=code).status == "canceled"
