"""A payment PayOps should not keep is proposed for a refund; approved (or changed), it is refunded once in Stripe.

Against both stand-ins: the customer pays while the booking is being
cancelled in Checkfront, collection flags the payment, the refunds workflow
proposes giving it back, and a reviewer's answer moves the money.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import Decision, Mode, Outcome
from payops import review
from payops.executors import executor_for
from payops.models import ReviewItem, ReviewKind, ReviewStatus, WorkflowPolicy
from payops.stripe_gateway import stripe_gateway
from refunds.actions import REFUND
from tests.payments.conftest import automate, collection_of, new_booking, notes_on  # noqa: F401
from tests.payments.test_pay_page import pay
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def set_refunds_policy(mode: str) -> None:
    WorkflowPolicy.objects.update_or_create(
        workflow="refunds",
        defaults={
            "mode": mode,
            "threshold_currency": "cad",
            "automate_max_risk": 20,
            "automate_min_confidence": 0.9,
            "automate_max_amount_minor": 10_000,
            "approver_threshold_minor": 100_000,
            "second_approval_threshold_minor": 500_000,
        },
    )


def paid_after_cancellation(sims: StandIns, client: Client) -> str:
    """The customer pays while staff cancel the booking in Checkfront: the payment must go back."""
    code = new_booking(sims)
    sims.stripe.disable_webhooks()
    pay(client, collection_of(code), "pm_card_visa")
    sims.checkfront.modify_booking(code, status_id="STOP")
    sims.settle()
    sims.stripe.enable_webhooks()
    return code


def refunds_of(sims: StandIns, code: str) -> list[dict[str, Any]]:
    """The payment's refunds as the Stripe stand-in holds them."""
    intent = collection_of(code).payment_intent_id
    return [r.to_dict() for r in stripe_gateway().client.v1.refunds.list({"payment_intent": intent}).data]


def test_a_reviewer_refunds_less_than_proposed_and_stripe_and_checkfront_show_it(
    automate: StandIns,  # noqa: F811
    client: Client,
    reviewer: User,
) -> None:
    set_refunds_policy(Mode.SUGGEST)
    code = paid_after_cancellation(automate, client)
    item = ReviewItem.objects.get(kind=ReviewKind.REFUND, booking_id=code)
    assert (item.amount_minor, item.currency, item.status) == (18690, "cad", ReviewStatus.OPEN)
    assert "the customer had already paid" not in item.decision.reason and "refund it" in item.decision.reason

    child = review.approve(item.pk, reviewer, changes={"amount_minor": 15000})
    assert child is not None
    automate.settle()
    child.refresh_from_db()
    assert child.outcome == Outcome.EXECUTED, child.outcome_detail
    [refund] = refunds_of(automate, code)
    assert (refund["amount"], refund["status"], refund["reason"]) == (15000, "succeeded", "requested_by_customer")
    assert refund["metadata"]["payops_decided_by"] == "person"
    assert any(n.startswith("Refunded 150.00 CAD to the card") and "approved by rita" in n for n in notes_on(code))
    # Run again (a worker died after Stripe answered): the same key returns the same refund.
    executor = executor_for(REFUND)
    assert executor is not None
    assert executor(child)["refund"] == refund["id"]
    assert len(refunds_of(automate, code)) == 1


def test_a_small_refund_runs_on_its_own_in_automate_mode_and_never_exceeds_what_is_left(
    automate: StandIns,  # noqa: F811
    client: Client,
) -> None:
    set_refunds_policy(Mode.AUTOMATE)
    WorkflowPolicy.objects.filter(workflow="refunds").update(automate_max_amount_minor=100_000)
    code = paid_after_cancellation(automate, client)
    [proposal] = Decision.objects.filter(action=REFUND, booking_id=code)
    assert (proposal.route, proposal.outcome) == ("execute", Outcome.EXECUTED), proposal.outcome_detail
    [refund] = refunds_of(automate, code)
    assert refund["amount"] == 18690
    # A second refund decision for the same payment finds nothing left and moves no money.
    executor = executor_for(REFUND)
    assert executor is not None
    again = Decision.objects.create(
        trace_id="t",
        workflow="refunds",
        booking_id=code,
        action=REFUND,
        params=proposal.params,
        amount_minor=18690,
        currency="cad",
        reason="a duplicate proposal",
        mode=Mode.AUTOMATE,
        route="execute",
        outcome=Outcome.EXECUTING,
    )
    assert "nothing left to refund" in executor(again)["skipped"]
    assert len(refunds_of(automate, code)) == 1
