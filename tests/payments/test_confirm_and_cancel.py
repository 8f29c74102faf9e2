"""A paid booking is recorded paid in Checkfront once; a cancelled booking's payment request is withdrawn."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from django.test import Client

from audit.models import Mode, Outcome
from bookings.models import Booking
from payments import executors
from payments.collection import CANCEL_PAYMENT, CONFIRM_BOOKING
from payments.models import CollectionStatus, PaymentCollection
from payops.event_processing import replay_events
from payops.models import InboundEvent
from payops.stripe_gateway import stripe_gateway
from refunds.actions import REFUND
from tests.payments.conftest import collection_of, decisions, new_booking, notes_on, set_payments_policy
from tests.payments.test_pay_page import pay
from tests.stand_ins import StandIns
from tests.stripe_fixtures import TEST_API_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def paid_events(sims: StandIns, payment_intent_id: str) -> list[Any]:
    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": sims.stripe.url})
    events = client.v1.events.list({"type": "payment_intent.succeeded"}).data
    return [e for e in events if e.data.object["id"] == payment_intent_id]


@pytest.mark.parametrize("status", ["STOP", "VOID"])
def test_cancelling_the_booking_cancels_its_open_payment_intent(automate: StandIns, status: str) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    automate.checkfront.modify_booking(code, status_id=status)
    automate.settle()
    [decision] = decisions(CANCEL_PAYMENT, code)
    assert decision.outcome == Outcome.EXECUTED, decision.outcome_detail
    assert "cancelled" in decision.reason
    intent = automate.stripe.get(collection.payment_intent_id)
    assert (intent["status"], intent["cancellation_reason"]) == ("canceled", "abandoned")
    collection.refresh_from_db()
    assert collection.status == CollectionStatus.CANCELED and collection.canceled_at is not None
    assert notes_on(code)[-1] == (
        f"Payment request for CAD 186.90 withdrawn: booking cancelled (Stripe {collection.payment_intent_id} canceled)"
    )
    # Running it again finds the collection closed and writes nothing.
    assert executors.cancel_payment(decision)["already"] == CollectionStatus.CANCELED
    assert len(notes_on(code)) == 2


def test_a_booking_paid_in_full_elsewhere_withdraws_its_payment_request(automate: StandIns) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    automate.checkfront.add_payment(code, amount="186.90", gateway_id="POS")  # paid at the desk
    automate.settle()
    [decision] = decisions(CANCEL_PAYMENT, code)
    assert "has nothing left to pay" in decision.reason
    assert automate.stripe.get(collection.payment_intent_id)["status"] == "canceled"
    assert collection_of(code).status == CollectionStatus.CANCELED
    assert notes_on(code)[-1] == (
        f"Payment request for CAD 186.90 withdrawn: nothing is due any more (Stripe {collection.payment_intent_id} "
        "canceled)"
    )


def test_a_replayed_payment_event_or_a_rerun_executor_records_the_payment_once(
    automate: StandIns, client: Client
) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    pay(client, collection, "pm_card_visa")
    automate.settle()
    [event] = paid_events(automate, collection.payment_intent_id)
    automate.stripe.resend_event(event.id)  # the inbox stores it once
    replayed = replay_events(InboundEvent.objects.filter(event_id=event.id), actor=None, via="the test")
    assert len(replayed) == 1  # signalled again
    automate.settle()
    [decision] = decisions(CONFIRM_BOOKING, code)
    assert executors.confirm_booking(decision)["already_recorded"] == collection.pk
    paid_notes = [n for n in notes_on(code) if n.startswith("Paid ")]
    assert len(paid_notes) == 1
    transactions = automate.checkfront.booking(code)["paid_total"]
    assert transactions == "186.90"  # one payment recorded, not two


def test_a_payment_that_beat_the_cancellation_is_flagged_for_a_refund_not_canceled(
    automate: StandIns, client: Client
) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    automate.stripe.disable_webhooks()  # PayOps has not heard of the payment yet
    pay(client, collection, "pm_card_visa")
    automate.checkfront.modify_booking(code, status_id="STOP")
    automate.settle()
    [decision] = decisions(CANCEL_PAYMENT, code)
    assert decision.outcome == Outcome.EXECUTED
    assert decision.outcome_detail["refund_case"] is True
    assert "a refund is proposed" in decision.outcome_detail["why"]
    [refund] = decisions(REFUND, code)  # the refunds workflow is in monitor mode here: only recorded
    assert (refund.amount_minor, refund.currency, refund.params["stripe_reason"]) == (
        18690,
        "cad",
        "requested_by_customer",
    )
    assert automate.stripe.get(collection.payment_intent_id)["status"] == "succeeded"
    collection.refresh_from_db()
    assert (collection.status, collection.needs_refund) == (CollectionStatus.SUCCEEDED, True)
    assert notes_on(code)[-1].startswith(
        "Payment request withdrawn (booking cancelled), but the customer had already paid CAD 186.90"
    )

    automate.stripe.enable_webhooks()
    [event] = paid_events(automate, collection.payment_intent_id)
    automate.stripe.resend_event(event.id)
    automate.settle()
    assert decisions(CONFIRM_BOOKING, code) == []  # flagged already: nothing is recorded as paid
    assert automate.checkfront.booking(code)["status_id"] == "STOP"


def test_a_payment_for_a_booking_cancelled_unseen_is_not_recorded_but_flagged(
    automate: StandIns, client: Client
) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    automate.checkfront.disable_webhooks()  # PayOps does not hear of the cancellation
    automate.checkfront.modify_booking(code, status_id="STOP")
    pay(client, collection, "pm_card_visa")
    automate.settle()
    [decision] = decisions(CONFIRM_BOOKING, code)
    assert decision.outcome == Outcome.EXECUTED
    assert decision.outcome_detail["refund_case"] is True
    assert automate.checkfront.booking(code)["status_id"] == "STOP"
    collection.refresh_from_db()
    assert collection.needs_refund and collection.checkfront_paid_at is None
    assert "the booking is STOP (cancelled): refund the payment" in notes_on(code)[-1]


def test_payments_payops_did_not_create_are_left_alone(automate: StandIns) -> None:
    code = new_booking(automate)
    intent = stripe_gateway().create_payment_intent(
        idempotency_key="someone-else-1",
        amount_minor=18690,
        currency="cad",
        payment_method_id="pm_card_visa",
        confirm=True,
        metadata={"checkfront_booking_id": code},
    )
    automate.settle()
    assert intent.status == "succeeded"
    assert decisions(CONFIRM_BOOKING, code) == []
    assert automate.checkfront.booking(code)["status_id"] == "HOLD"
    assert collection_of(code).status == CollectionStatus.OPEN


def test_in_monitor_mode_a_payment_is_only_logged_and_checkfront_is_left_alone(
    automate: StandIns, client: Client
) -> None:
    code = new_booking(automate)
    collection = collection_of(code)
    set_payments_policy(Mode.MONITOR)
    pay(client, collection, "pm_card_visa")
    automate.settle()
    [decision] = decisions(CONFIRM_BOOKING, code)
    assert decision.outcome == Outcome.LOGGED
    assert automate.checkfront.booking(code)["status_id"] == "HOLD"
    assert Booking.objects.get(code=code).status == "HOLD"
    # Stripe's word is recorded all the same: the collection is paid, Checkfront is not told.
    assert PaymentCollection.objects.get(pk=collection.pk).status == CollectionStatus.SUCCEEDED
