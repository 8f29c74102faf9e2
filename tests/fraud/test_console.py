"""The fraud page: who sees it, who may release or reject, and what a decision looks like to the person."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fraud.models import Assessment, FraudHold, HoldStatus
from payments.collection import money
from payops.models import ReviewItem, ReviewKind, ReviewStatus
from payops.policy_gate import Proposal, submit_proposal
from tests.fraud.conftest import RISKY, book, pay_by_link, set_fraud_policy
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)


def held(sims: StandIns) -> tuple[str, ReviewItem]:
    code = book(sims, RISKY, seats=12, starts_in=timedelta(hours=3))
    pay_by_link(sims, code, "pm_card_riskLevelElevated")
    return code, ReviewItem.objects.get(booking_id=code, kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)


def test_a_viewer_sees_held_bookings_with_score_reasons_and_model(fraud_on: StandIns, client: Any, viewer: Any) -> None:
    code, item = held(fraud_on)
    client.force_login(viewer)
    html = client.get("/fraud/").content.decode()
    assert code in html and "disposable email address (mailinator.com)" in html
    assert item.decision.model_version in html and 'id="score-chart"' in html
    assert money(item.amount_minor or 0, item.currency) in html  # "CAD 1121.40", not minor units
    assert client.get("/fraud/", HTTP_HX_REQUEST="true").content.decode().lstrip().startswith('<div id="summary"')


def test_a_viewer_cannot_release(fraud_on: StandIns, client: Any, viewer: Any) -> None:
    _, item = held(fraud_on)
    client.force_login(viewer)
    response = client.post(f"/fraud/reviews/{item.pk}/release/")
    assert response.status_code == 403 and "may read the queue but not act" in response.content.decode()
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN


def test_outsiders_and_anonymous_users_are_turned_away(client: Any, outsider: Any) -> None:
    assert client.get("/fraud/").status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get("/fraud/").status_code == 403


def test_reject_needs_a_reason_and_then_cancels(fraud_on: StandIns, client: Any, reviewer: Any) -> None:
    code, item = held(fraud_on)
    client.force_login(reviewer)
    missing = client.post(f"/fraud/reviews/{item.pk}/reject/", {"reason": "  "})
    assert missing.status_code == 400 and "say why" in missing.content.decode()
    done = client.post(f"/fraud/reviews/{item.pk}/reject/", {"reason": "stolen card pattern"})
    assert done.status_code == 200 and "rejected: cancelling" in done.content.decode()
    fraud_on.settle()
    assert FraudHold.objects.get(booking_code=code).status == HoldStatus.CANCELLED
    again = client.post(f"/fraud/reviews/{item.pk}/release/")
    assert again.status_code == 409 and "already rejected" in again.content.decode()


def test_an_unknown_answer_or_item_is_refused(client: Any, reviewer: Any) -> None:
    client.force_login(reviewer)
    assert client.post("/fraud/reviews/999999/release/").status_code == 404
    assert client.get("/fraud/reviews/1/release/").status_code == 405


def _queue_holds(count: int) -> None:
    set_fraud_policy("suggest")
    for i in range(count):
        code = f"Q-{count}-{i}"
        Assessment.objects.create(
            booking_code=code,
            stage="payment",
            score=80,
            probability=0.8,
            band="high",
            confidence=0.3,
            model_version="fraud-prior-1",
            reasons=["booked 2 h before the start (raises the risk)"],
            features={},
            scored_at=timezone.now(),
        )
        submit_proposal(
            Proposal(
                workflow="fraud",
                action="fraud.release",
                reason="held",
                review_kind=ReviewKind.FRAUD_HOLD,
                score=80,
                confidence=0.3,
                model_version="fraud-prior-1",
                booking_id=code,
                amount_minor=10000,
                currency="cad",
                requires_person=True,
            )
        )


@pytest.mark.django_db(transaction=False)
def test_the_page_costs_the_same_queries_for_3_or_30_holds(client: Any, viewer: Any) -> None:
    client.force_login(viewer)
    counts = []
    for n in (3, 27):
        _queue_holds(n)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/fraud/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
