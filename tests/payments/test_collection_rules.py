"""The collection rules on the mirror alone: when a booking gets a proposal, and when it does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import Decision, Mode, Outcome
from bookings.models import Booking
from payments.collection import COLLECT, SucceededPayment, propose_collection, propose_confirmation
from tests.payments.conftest import set_payments_policy

pytestmark = pytest.mark.django_db


def booking(**fields: object) -> Booking:
    values: dict[str, object] = {
        "checkfront_id": 7,
        "code": "KMVQ-060314",
        "status": "HOLD",
        "currency": "cad",
        "total_minor": 4830,
        "due_minor": 4830,
        "start_at": timezone.now() + timedelta(days=3),
    }
    return Booking.objects.create(**{**values, **fields})


def test_a_payable_booking_is_proposed_once_while_the_first_proposal_waits() -> None:
    set_payments_policy(Mode.SUGGEST)
    first = propose_collection(booking=booking())
    assert first is not None and first.outcome == Outcome.QUEUED
    assert first.reason == "Booking KMVQ-060314 has CAD 48.30 due and no payment request: send a pay link for CAD 48.30"
    assert propose_collection(booking=Booking.objects.get()) is None
    assert Decision.objects.filter(action=COLLECT).count() == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "STOP"},
        {"status": "WAIT"},
        {"due_minor": 0, "status": "PAID"},
        {"start_at": timezone.now() - timedelta(hours=1)},
    ],
)
def test_nothing_is_proposed_for_bookings_that_are_not_to_be_collected(fields: dict[str, object]) -> None:
    assert propose_collection(booking=booking(**fields)) is None
    assert not Decision.objects.exists()


def test_a_payment_payops_did_not_ask_for_is_ignored() -> None:
    payment = SucceededPayment(
        payment_intent_id="pi_other", booking_code="KMVQ-060314", amount_minor=4830, currency="cad"
    )
    assert propose_confirmation(payment=payment) is None
    assert not Decision.objects.exists()
