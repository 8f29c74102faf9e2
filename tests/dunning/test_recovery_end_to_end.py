"""Failed-payment recovery end to end, over both stand-ins: a declined card, the planned retry, the outcome in
Checkfront, the customer's emails and the Decisions that explain each step."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import Decision, Mode, Outcome
from dunning import actions
from dunning.models import CustomerMessage, MessageKind, RecoveryCase, RecoveryStatus, RetryAttempt
from dunning.recovery import end_expired_holds
from payops.executors import execute_decision, executor_for
from payops.models import ReviewItem, WorkflowPolicy
from payops.stripe_gateway import CardDeclined, stripe_gateway
from tests.payments.conftest import collection_of, new_booking, notes_on, set_payments_policy
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def set_dunning_policy() -> None:
    # Automate what the model is sure of; escalations (risk 100) always reach a person.
    WorkflowPolicy.objects.update_or_create(
        workflow="dunning",
        defaults={
            "mode": Mode.AUTOMATE,
            "rollout_percent": 100,
            "automate_max_risk": 95,
            "automate_min_confidence": 0.0,
            "threshold_currency": "cad",
            "automate_max_amount_minor": 1_000_000,
            "approver_threshold_minor": 1_000_000,
            "second_approval_threshold_minor": 5_000_000,
        },
    )


@pytest.fixture
def recovering(stand_ins: StandIns, settings: Any) -> StandIns:  # noqa: F811 - the imported fixture
    set_payments_policy(Mode.AUTOMATE)
    set_dunning_policy()
    settings.DUNNING_MAX_RETRIES = 2
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return stand_ins


def book(stand_ins: StandIns, *, days_ahead: int = 20) -> str:  # noqa: F811
    """A payable booking for an activity `days_ahead` from now, with its PaymentIntent created."""
    return new_booking(stand_ins, start_date=int(time.time()) + days_ahead * 86_400)


def saved_card(stand_ins: StandIns, *declines: str) -> str:  # noqa: F811
    """A card the customer enters on the pay page; the stand-in declines its next charges with `declines`."""
    client = stripe_gateway().client
    method = client.v1.payment_methods.create({"type": "card", "card": {"token": "tok_visa"}})
    if declines:
        stand_ins.stripe.script_declines(method.id, list(declines))
    return str(method.id)


def customer_pays(stand_ins: StandIns, code: str, card: str) -> None:  # noqa: F811
    """What the pay page does: confirm the booking's PaymentIntent with the customer's card, on-session."""
    collection = collection_of(code)
    try:
        stripe_gateway().confirm_payment_intent(
            collection.payment_intent_id, idempotency_key=f"customer-{code}-{card}", payment_method_id=card
        )
    except CardDeclined:
        pass
    stand_ins.settle()


def pending(action: str, code: str) -> list[Decision]:
    return list(Decision.objects.filter(action=action, booking_id=code, outcome=Outcome.PENDING))


def run_when_due(stand_ins: StandIns, decision: Decision) -> str | None:  # noqa: F811
    """Time passes: the due-decision sweep would now send it; run it as the worker would."""
    Decision.objects.filter(pk=decision.pk).update(next_attempt_at=timezone.now())
    outcome = execute_decision(decision.pk)
    stand_ins.settle()
    return outcome


def hold_ends(stand_ins: StandIns, case: RecoveryCase) -> int:  # noqa: F811
    """The beat job runs after the hold's end."""
    assert case.hold_until is not None
    proposed = end_expired_holds(now=case.hold_until + timedelta(seconds=1))
    stand_ins.settle()
    return proposed


def test_a_declined_card_is_retried_when_planned_and_the_booking_is_confirmed(recovering: StandIns) -> None:
    code = book(recovering)
    customer_pays(recovering, code, saved_card(recovering, "insufficient_funds"))

    case = RecoveryCase.objects.get(booking_code=code)
    assert (case.status, case.decline_class, case.last_decline_code) == ("active", "soft", "insufficient_funds")
    [retry] = pending(actions.RETRY, code)
    assert retry.next_attempt_at is not None and retry.next_attempt_at > timezone.now()
    assert retry.score is not None and retry.confidence is not None and retry.model_version
    assert retry.reasons and retry.params["alternatives"]
    assert recovering.checkfront.booking(code)["status_id"] == "HOLD"
    [told] = CustomerMessage.objects.filter(case=case, kind=MessageKind.RETRY_SCHEDULED)
    assert told.sent_at and told.noted_at and "/pay/" in told.body
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert any("PayOps emailed ann@example.com" in note for note in notes_on(code))

    assert run_when_due(recovering, retry) == Outcome.EXECUTED
    case.refresh_from_db()
    assert case.status == RecoveryStatus.RECOVERED
    assert recovering.checkfront.booking(code)["status_id"] == "PAID"
    attempts = list(RetryAttempt.objects.filter(case=case).values_list("number", "succeeded"))
    assert attempts == [(0, False), (1, True)]
    # The retry keeps what the model saw when it chose it: the training data.
    retried = RetryAttempt.objects.get(case=case, number=1)
    assert retried.features["decline_code"] == "insufficient_funds"
    assert retried.model_version == retry.model_version and retried.predicted_success is not None
    assert CustomerMessage.objects.filter(case=case, kind=MessageKind.RECOVERED).exists()


def test_a_retry_that_runs_twice_charges_once(recovering: StandIns) -> None:
    code = book(recovering)
    customer_pays(recovering, code, saved_card(recovering, "insufficient_funds", "insufficient_funds"))
    [retry] = pending(actions.RETRY, code)
    # A worker that dies after charging leaves the decision to be run again
    # (the sweep takes its claim back): the executor itself runs twice.
    run_twice = executor_for(actions.RETRY)
    assert run_twice is not None
    first, second = run_twice(retry), run_twice(retry)
    assert first["declined"] == second["declined"] == "insufficient_funds"
    intent_id = collection_of(code).payment_intent_id
    charges = stripe_gateway().client.v1.charges.list({"payment_intent": intent_id}).data
    assert len(charges) == 2  # the customer's attempt and one retry


def test_when_every_retry_fails_the_booking_is_cancelled_and_released(recovering: StandIns) -> None:
    code = book(recovering)
    customer_pays(recovering, code, saved_card(recovering, *["insufficient_funds"] * 6))
    for _ in range(3):
        due = pending(actions.RETRY, code)
        if not due:
            break
        run_when_due(recovering, due[0])
    case = RecoveryCase.objects.get(booking_code=code)
    if case.status == RecoveryStatus.ACTIVE:
        hold_ends(recovering, case)
        case.refresh_from_db()
    assert case.status == RecoveryStatus.CANCELLED
    assert case.retries <= 2
    assert recovering.checkfront.booking(code)["status_id"] == "STOP"
    assert CustomerMessage.objects.filter(case=case, kind=MessageKind.CANCELLED).exists()
    assert recovering.stripe.get(case.payment_intent_id)["status"] == "canceled"


def test_a_hard_decline_is_never_retried_and_asks_for_another_card(recovering: StandIns) -> None:
    code = book(recovering)
    customer_pays(recovering, code, saved_card(recovering, "do_not_try_again"))
    case = RecoveryCase.objects.get(booking_code=code)
    assert case.decline_class == "hard"
    assert not Decision.objects.filter(action=actions.RETRY, booking_id=code).exists()
    message = CustomerMessage.objects.get(case=case, kind=MessageKind.CARD_UPDATE)
    assert "/pay/" in message.body


def test_a_high_value_booking_goes_to_a_person_before_cancellation(recovering: StandIns, settings: Any) -> None:
    settings.DUNNING_HIGH_VALUE_MINOR = 1
    code = book(recovering)
    customer_pays(recovering, code, saved_card(recovering, "do_not_try_again"))
    case = RecoveryCase.objects.get(booking_code=code)
    assert hold_ends(recovering, case) == 1
    assert hold_ends(recovering, case) == 0  # one proposal per case, however often beat runs
    item = ReviewItem.objects.get(booking_id=code, action=actions.CANCEL)
    assert item.status == "open"
    assert recovering.checkfront.booking(code)["status_id"] != "STOP"
    case.refresh_from_db()
    assert case.status == RecoveryStatus.ACTIVE


def test_no_retry_is_planned_inside_the_margin_before_the_activity(recovering: StandIns) -> None:
    code = book(recovering, days_ahead=1)  # tomorrow: inside the 48 h margin
    customer_pays(recovering, code, saved_card(recovering, "insufficient_funds"))
    assert not Decision.objects.filter(action=actions.RETRY, booking_id=code).exists()
    cancel = Decision.objects.get(action=actions.CANCEL, booking_id=code)
    assert cancel.outcome == Outcome.EXECUTED
    assert recovering.checkfront.booking(code)["status_id"] == "STOP"
