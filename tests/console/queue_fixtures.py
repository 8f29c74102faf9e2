"""Review items for the queue's tests: proposals of the sample workflow, queued by the real gate."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from audit.models import Mode
from bookings.models import Booking
from payops.models import ReviewItem, ReviewKind, WorkflowPolicy
from payops.policy_gate import submit_proposal
from tests.payops.sample_workflow import (
    WORKFLOW,
    reminder_proposal,
)


def queue_item(
    booking_id: str = "B1",
    *,
    kind: str = ReviewKind.OTHER,
    amount_minor: int | None = 5_000,
    currency: str = "usd",
    score: float | None = 10,
    due_by: datetime | None = None,
    stripe_ids: list[str] | None = None,
) -> ReviewItem:
    """One sample proposal, queued for review by the gate (the workflow is in suggest mode)."""
    WorkflowPolicy.objects.update_or_create(workflow=WORKFLOW, defaults={"mode": Mode.SUGGEST})
    proposal = dataclasses.replace(
        reminder_proposal(booking_id, amount_minor=amount_minor or 0, currency=currency),
        review_kind=kind,
        score=score,
        due_by=due_by,
        stripe_ids=stripe_ids if stripe_ids is not None else [f"pi_{booking_id}"],
    )
    if amount_minor is None:
        proposal = dataclasses.replace(proposal, amount_minor=None, currency="")
    return ReviewItem.objects.get(decision=submit_proposal(proposal))


def mirror_booking(code: str, email: str, **fields: Any) -> Booking:
    defaults = {"status": "HOLD", "currency": "usd", "total_minor": 5_000, "customer_email": email}
    return Booking.objects.create(checkfront_id=abs(hash(code)) % 10**9, code=code, **{**defaults, **fields})
