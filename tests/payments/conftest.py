"""Payment collection over both stand-ins: a booking in the Checkfront simulator, PaymentIntents in the Stripe one."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import Decision, Mode
from bookings.checkfront_client import CheckfrontClient
from payments.models import PaymentCollection
from payops.models import WorkflowPolicy
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

CUSTOMER = {"name": "Ann Lee", "email": "ann@example.com", "country": "CA"}
# Harbour Kayak Tour, CAD 89.00 a seat before tax.
KAYAKS = [{"sku": "harbourkayaktour", "qty": 2}]


def set_payments_policy(mode: str) -> WorkflowPolicy:
    """Sending a pay link moves no money, so the automation limit is as high as the constraints allow."""
    policy, _ = WorkflowPolicy.objects.update_or_create(
        workflow="payments",
        defaults={
            "mode": mode,
            "rollout_percent": 100,
            "automate_max_risk": 10,
            "automate_min_confidence": 0.9,
            "threshold_currency": "cad",
            "automate_max_amount_minor": 1_000_000,
            "approver_threshold_minor": 1_000_000,
            "second_approval_threshold_minor": 5_000_000,
        },
    )
    return policy


@pytest.fixture
def automate(stand_ins: StandIns) -> StandIns:  # noqa: F811 - the fixture imported above
    set_payments_policy(Mode.AUTOMATE)
    return stand_ins


def new_booking(sims: StandIns, *, customer: dict[str, Any] | None = None, **fields: Any) -> str:
    """A HOLD booking in the simulator, mirrored and collected (or not) before this returns."""
    booking = sims.checkfront.create_booking(
        customer=customer or CUSTOMER,
        items=fields.pop("items", KAYAKS),
        status_id=fields.pop("status_id", "HOLD"),
        **fields,
    )
    sims.settle()
    return str(booking["code"])


def notes_on(code: str) -> list[str]:
    """The booking's notes in Checkfront, oldest first."""
    notes = sorted(CheckfrontClient().notes(), key=lambda n: int(n["note_id"]))
    return [str(n["body"]) for n in notes if n.get("booking_id") == code]


def collection_of(code: str) -> PaymentCollection:
    return PaymentCollection.objects.get(booking_code=code)


def decisions(action: str, code: str) -> list[Decision]:
    return list(Decision.objects.filter(action=action, booking_id=code).order_by("created_at"))
