"""Disputes over both stand-ins: a booking in the Checkfront simulator, paid with a Stripe dispute test card."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import Mode
from disputes.models import DisputeCase
from payops.models import ReviewItem, ReviewKind, WorkflowPolicy
from tests.payments.conftest import automate, collection_of, new_booking  # noqa: F401
from tests.payments.test_pay_page import pay
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

CUSTOMER = {"name": "Dana Fox", "email": "dana@example.com", "country": "CA", "address": "12 Wharf St"}
IP = "81.2.69.160"
CUSTOMER_NOTE = "Two adults, first time kayaking"


def set_disputes_policy(mode: str) -> None:
    WorkflowPolicy.objects.update_or_create(
        workflow="disputes",
        defaults={
            "mode": mode,
            "threshold_currency": "cad",
            "automate_max_amount_minor": 100_000,
            "approver_threshold_minor": 100_000,
            "second_approval_threshold_minor": 500_000,
        },
    )


@pytest.fixture
def disputes_on(automate: StandIns) -> StandIns:  # noqa: F811 - the fixture imported above
    """Collection runs on its own; dispute packages go to people (automate: to show it never submits alone)."""
    set_disputes_policy(Mode.AUTOMATE)
    return automate


def disputed_booking(sims: StandIns, *, card: str = "pm_card_createDispute", staff_note: str = "") -> str:
    """A booking paid by a card whose payment is disputed at once (Stripe's test cards); its code."""
    code = new_booking(
        sims,
        customer=CUSTOMER,
        start_date=int((timezone.now() + timedelta(days=10)).timestamp()),
        source_ip=IP,
        note=CUSTOMER_NOTE,
    )
    if staff_note:
        sims.checkfront.add_note(code, staff_note)
        sims.settle()
    response = pay(Client(), collection_of(code), card)
    assert response.status_code in (200, 302), response.content.decode()[:500]
    sims.settle()
    return code


def case_of(code: str) -> DisputeCase:
    return DisputeCase.objects.get(booking_code=code)


def item_of(code: str) -> ReviewItem:
    return ReviewItem.objects.get(kind=ReviewKind.DISPUTE_EVIDENCE, booking_id=code)


def stripe_dispute(sims: StandIns, dispute_id: str) -> dict[str, Any]:
    """The dispute as the Stripe stand-in holds it."""
    return dict(sims.stripe.get(dispute_id))
