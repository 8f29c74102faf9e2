"""A payable booking gets a PaymentIntent for what Checkfront says is due, and a pay link in a note."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from audit.models import Mode, Outcome, Route
from bookings import signals
from bookings.models import Booking, BookingNote
from payments import executors
from payments.collection import COLLECT
from payments.models import CollectionStatus, PaymentCollection
from payops.stripe_gateway import stripe_gateway
from tests.payments.conftest import CUSTOMER, collection_of, decisions, new_booking, notes_on, set_payments_policy
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_payable_booking_gets_a_payment_intent_for_what_is_due_and_a_pay_link_note(automate: StandIns) -> None:
    code = new_booking(automate)
    [decision] = decisions(COLLECT, code)
    assert (decision.route, decision.outcome) == (Route.EXECUTE, Outcome.EXECUTED), decision.outcome_detail
    assert (decision.amount_minor, decision.currency, decision.score, decision.confidence) == (18690, "cad", 0, 1.0)
    assert decision.model_version == "rules-1"
    assert "CAD 186.90 due" in decision.reason

    collection = collection_of(code)
    assert (collection.status, collection.amount_minor, collection.currency) == (CollectionStatus.OPEN, 18690, "cad")
    intent = automate.stripe.get(collection.payment_intent_id)
    assert (intent["amount"], intent["currency"], intent["status"]) == (18690, "cad", "requires_payment_method")
    assert intent["customer"] == collection.stripe_customer_id
    assert intent["setup_future_usage"] == "off_session"
    assert intent["payment_method_types"] == ["card"]
    assert intent["description"] == f"Booking {code}"
    assert intent["metadata"]["checkfront_booking_id"] == code
    assert intent["metadata"]["payops_decision_id"] == str(decision.pk)
    assert intent["metadata"]["trace_id"] == decision.trace_id
    customer = automate.stripe.get(collection.stripe_customer_id)
    assert customer["email"] == CUSTOMER["email"]
    assert customer["metadata"]["checkfront_customer_id"] == collection.checkfront_customer_id != ""

    assert collection.pay_url.startswith(f"{automate.base_url}/pay/")
    assert notes_on(code) == [f"Pay CAD 186.90 for booking {code}: {collection.pay_url}"]


def test_the_same_customer_s_next_booking_reuses_the_stripe_customer(automate: StandIns) -> None:
    first = collection_of(new_booking(automate))
    second = collection_of(new_booking(automate, items=[{"sku": "sunsetsail", "qty": 1}]))
    assert first.payment_intent_id != second.payment_intent_id
    assert first.stripe_customer_id == second.stripe_customer_id
    assert len(stripe_gateway().find_customers(email=CUSTOMER["email"])) == 1


def test_someone_else_sharing_the_email_gets_a_customer_of_their_own(automate: StandIns) -> None:
    mine = collection_of(new_booking(automate))
    other = {"name": "Ann Lee's partner", "email": "partner@example.com"}
    theirs = collection_of(new_booking(automate, customer=other))
    assert theirs.stripe_customer_id != mine.stripe_customer_id
    assert theirs.checkfront_customer_id != mine.checkfront_customer_id


def test_a_deposit_paid_in_checkfront_first_leaves_only_the_balance_to_collect(automate: StandIns) -> None:
    code = new_booking(automate, status_id="WAIT")  # waiting: nothing is collected yet
    assert not PaymentCollection.objects.exists()
    automate.checkfront.add_payment(code, amount="50.00", gateway_id="POS")
    automate.settle()
    collection = collection_of(code)
    assert collection.amount_minor == 18690 - 5000
    assert automate.stripe.get(collection.payment_intent_id)["amount"] == 13690
    assert notes_on(code) == [f"Pay CAD 136.90 for booking {code}: {collection.pay_url}"]


def test_a_new_amount_due_changes_the_open_payment_intent_and_keeps_the_link(automate: StandIns) -> None:
    code = new_booking(automate)
    before = collection_of(code)
    automate.checkfront.add_payment(code, amount="86.90", gateway_id="POS")  # paid part of it at the desk
    automate.settle()
    after = collection_of(code)
    assert (after.pk, after.pay_url, after.payment_intent_id) == (before.pk, before.pay_url, before.payment_intent_id)
    assert after.amount_minor == 10000
    assert automate.stripe.get(after.payment_intent_id)["amount"] == 10000
    assert len(decisions(COLLECT, code)) == 2
    assert notes_on(code)[-1] == (
        f"Amount due on booking {code} is now CAD 100.00 (was CAD 186.90); the same link asks for it: {after.pay_url}"
    )


def test_the_same_amount_announced_payable_again_proposes_nothing(automate: StandIns) -> None:
    code = new_booking(automate)
    with transaction.atomic():
        signals.booking_became_payable.send(sender=Booking, booking=Booking.objects.get(code=code))
    assert len(decisions(COLLECT, code)) == 1


def test_monitor_mode_only_logs_the_decision_and_touches_nothing_outside(stand_ins: StandIns) -> None:
    set_payments_policy(Mode.MONITOR)
    code = new_booking(stand_ins)
    [decision] = decisions(COLLECT, code)
    assert (decision.route, decision.outcome) == (Route.LOG, Outcome.LOGGED)
    assert not PaymentCollection.objects.exists()
    objects: dict[str, Any] = stand_ins.stripe.stats()["objects"]
    assert not objects.get("payment_intent") and not objects.get("customer"), objects
    assert notes_on(code) == []


def test_running_the_executor_again_makes_one_customer_one_payment_intent_and_one_note(automate: StandIns) -> None:
    code = new_booking(automate)
    [decision] = decisions(COLLECT, code)
    first = collection_of(code)
    assert executors.collect(decision)["payment_intent_id"] == first.payment_intent_id
    # As if the first run died after each outside write but before recording it.
    PaymentCollection.objects.filter(pk=first.pk).update(stripe_customer_id="", payment_intent_id="", pay_url="")
    BookingNote.objects.update(written_at=None)
    again = executors.collect(decision)
    assert again["payment_intent_id"] == first.payment_intent_id  # Stripe replayed the same key's answer
    assert again["stripe_customer_id"] == first.stripe_customer_id
    assert again["note_written"] is False  # found in Checkfront, not written twice
    automate.settle()
    objects = automate.stripe.stats()["objects"]
    assert (objects["customer"], objects["payment_intent"]) == (1, 1)
    assert len(notes_on(code)) == 1
