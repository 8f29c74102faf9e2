"""A reviewer moving a dunning retry: which times are accepted, and when the approved retry runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from dunning.review_rules import retry_time
from payops import review


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(timedelta(minutes=-3), True), (timedelta(hours=5), True), (timedelta(days=29), True)],
)
def test_a_retry_can_move_from_now_to_30_days_ahead(offset: timedelta, accepted: bool) -> None:
    at = timezone.now() + offset
    assert retry_time(at.isoformat()) == at.isoformat()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("tomorrow", "not a date and time"),
        ("2026-11-28T09:00:00", "with a time zone"),
        (12, "not a date and time"),
        ((timezone.now() - timedelta(hours=1)).isoformat(), "has passed"),
        ((timezone.now() + timedelta(days=31)).isoformat(), "new plan"),
    ],
)
def test_other_retry_times_are_refused_with_the_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        retry_time(value)


def test_an_approved_retry_waits_for_its_time_and_one_due_runs_at_once() -> None:
    later = timezone.now() + timedelta(hours=6)
    assert review._run_time("dunning.retry_payment", {"retry_at": later.isoformat()}) == later
    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert review._run_time("dunning.retry_payment", {"retry_at": past}) is None
    assert review._run_time("fraud.release", {"retry_at": later.isoformat()}) is None


@pytest.mark.django_db
def test_a_moved_retry_stays_before_the_hold_ends_and_the_activity_starts() -> None:
    from types import SimpleNamespace

    from dunning.models import RecoveryCase
    from dunning.review_rules import retry_fits_the_case

    now = timezone.now()
    case = RecoveryCase.objects.create(
        payment_intent_id="pi_x",
        booking_code="B",
        amount_minor=100,
        currency="cad",
        first_failed_at=now,
        last_failed_at=now,
        hold_until=now + timedelta(hours=10),
        service_start_at=now + timedelta(hours=20),
    )
    item = SimpleNamespace(params={"case_id": case.pk})
    retry_fits_the_case(item, {"retry_at": (now + timedelta(hours=9)).isoformat()})
    with pytest.raises(ValueError, match="before the booking's hold ends"):
        retry_fits_the_case(item, {"retry_at": (now + timedelta(hours=11)).isoformat()})


@pytest.mark.django_db
def test_an_approved_retry_still_waiting_expires_with_its_item_when_the_case_ends(approver: Any) -> None:
    from audit.models import Decision, Mode, Outcome
    from dunning import actions
    from dunning.models import RecoveryCase
    from dunning.recovery import expire_open_decisions
    from payops.models import ReviewItem, ReviewStatus, WorkflowPolicy

    WorkflowPolicy.objects.update_or_create(workflow="dunning", defaults={"mode": Mode.SUGGEST})
    now = timezone.now()
    case = RecoveryCase.objects.create(
        payment_intent_id="pi_w",
        booking_code="W",
        amount_minor=100,
        currency="cad",
        first_failed_at=now,
        last_failed_at=now,
    )
    later = now + timedelta(hours=6)
    proposal = actions.propose_retry(
        case,
        plan_params={},
        attempt=1,
        retry_at=later,
        score=50,
        confidence=0.5,
        model_version="m",
        reason="r",
        reasons=[],
    )
    item = ReviewItem.objects.get(decision=proposal)
    child = review.approve(item.pk, approver)
    assert child is not None and child.next_attempt_at == later and child.outcome == Outcome.PENDING
    expire_open_decisions(case, why="the customer paid")
    item.refresh_from_db()
    assert item.status == ReviewStatus.EXPIRED
    assert Decision.objects.get(pk=child.pk).outcome == Outcome.EXPIRED
