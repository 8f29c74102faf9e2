# ruff: noqa: F811 - the stand-in fixtures are imported by name
"""A paid booking cancelled in Checkfront is refunded by its cancellation policy, once, across its payments.

Against both stand-ins: the customer pays through the pay page (or in two
payments), staff cancel the booking in the Checkfront simulator, its
webhook reaches the mirror, and the refunds workflow asks the Stripe
stand-in what was captured, works out the policy's share and refunds it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import Decision, Mode, Outcome
from bookings import signals as booking_signals
from payops import review
from payops.models import ReviewItem, ReviewKind, ReviewStatus, WorkflowPolicy
from payops.stripe_gateway import stripe_gateway
from refunds.actions import REFUND
from refunds.cancellations import propose_for_cancellation
from refunds.models import CancellationPolicy, CancellationRefund, CancellationRefundStatus, PolicyTier
from refunds.receivers import on_booking_cancelled
from tests.payments.conftest import automate, collection_of, new_booking, notes_on  # noqa: F401
from tests.payments.test_pay_page import pay
from tests.refunds.test_refunds_end_to_end import set_refunds_policy
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PAID = 18690  # two seats on the Harbour Kayak Tour, with tax, CAD


@pytest.fixture
def policy(automate: StandIns, settings: Any) -> CancellationPolicy:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    standard = CancellationPolicy.objects.create(name="Standard", currency="cad", fee_minor=0)
    PolicyTier.objects.create(policy=standard, min_days_before=30, refund_percent=100)
    PolicyTier.objects.create(policy=standard, min_days_before=7, refund_percent=50)
    set_refunds_policy(Mode.AUTOMATE)
    WorkflowPolicy.objects.filter(workflow="refunds").update(automate_max_amount_minor=100_000)
    return standard


def paid_booking(sims: StandIns, client: Client, *, starts_in_days: int) -> str:
    start = (timezone.now() + timedelta(days=starts_in_days)).date().isoformat()
    code = new_booking(sims, start_date=start)
    pay(client, collection_of(code), "pm_card_visa")
    sims.settle()
    return code


def paid_in_two_payments(sims: StandIns, client: Client) -> tuple[str, Any]:
    """A booking starting in 60 days: a 50.00 deposit taken at the desk through Stripe and recorded on the
    booking in Checkfront, then the balance paid by the pay link two minutes later."""
    code = new_booking(sims, start_date=(timezone.now() + timedelta(days=60)).date().isoformat())
    deposit = stripe_gateway().create_payment_intent(
        idempotency_key=f"test-deposit-{code}",
        amount_minor=5000,
        currency="cad",
        payment_method_id="pm_card_visa",
        confirm=True,
        metadata={"checkfront_booking_id": code},
    )
    sims.checkfront.add_payment(code, amount="50.00", gateway_id=deposit.id)
    sims.settle()
    sims.stripe.advance_clock(120)
    assert collection_of(code).amount_minor == PAID - 5000, "the pay link asks for the balance"
    pay(client, collection_of(code), "pm_card_visa")
    sims.settle()
    return code, deposit


def cancel(sims: StandIns, code: str) -> None:
    sims.checkfront.modify_booking(code, status_id="STOP")
    sims.settle()


def stripe_refunds(payment_intent_id: str) -> list[dict[str, Any]]:
    return [r.to_dict() for r in stripe_gateway().client.v1.refunds.list({"payment_intent": payment_intent_id}).data]


@pytest.mark.parametrize(
    ("starts_in_days", "refunded", "tier_words"),
    [(45, PAID, "refunds 100 %"), (12, PAID // 2, "refunds 50 %"), (3, 0, "no tier of the policy reaches that")],
)
def test_a_cancellation_at_each_tier_refunds_the_policys_share(
    policy: CancellationPolicy,
    automate: StandIns,
    client: Client,
    starts_in_days: int,
    refunded: int,
    tier_words: str,
) -> None:
    code = paid_booking(automate, client, starts_in_days=starts_in_days)
    cancel(automate, code)
    row = CancellationRefund.objects.get(booking_code=code)
    assert (row.captured_minor, row.amount_minor, row.policy_version) == (PAID, refunded, policy.version())
    assert any(tier_words in step for step in row.explanation), row.explanation
    assert row.terms["tiers"] == [[30, 100], [7, 50]], "the terms are kept with the refund"
    pi = collection_of(code).payment_intent_id
    if not refunded:
        assert row.status == CancellationRefundStatus.NOTHING and row.decision is None
        assert stripe_refunds(pi) == [] and not mail.outbox
        return
    proposal = row.decision
    assert proposal is not None and proposal.model_version == policy.version()
    assert (proposal.route, proposal.score, proposal.confidence) == ("execute", 10.0, 1.0)
    child = Decision.objects.get(parent=proposal) if proposal.outcome != Outcome.EXECUTED else proposal
    assert child.outcome == Outcome.EXECUTED, child.outcome_detail
    [refund] = stripe_refunds(pi)
    assert (refund["amount"], refund["status"]) == (refunded, "succeeded")
    row.refresh_from_db()
    assert (row.status, row.refunded_minor, row.refund_ids) == (
        CancellationRefundStatus.REFUNDED,
        refunded,
        [refund["id"]],
    )
    assert any(n.startswith(f"Refunded {refunded / 100:.2f} CAD to the card") for n in notes_on(code))
    [email] = mail.outbox
    assert email.to == ["ann@example.com"] and code in email.subject
    assert (
        f"refunded {refunded / 100:.2f} CAD" in email.body
        and "Our cancellation policy: Cancelled 30 days" in email.body
    )


def test_a_booking_paid_in_two_payments_is_refunded_across_them_newest_first(
    policy: CancellationPolicy,
    automate: StandIns,
    client: Client,
) -> None:
    code, deposit = paid_in_two_payments(automate, client)
    cancel(automate, code)
    row = CancellationRefund.objects.get(booking_code=code)
    balance_pi = collection_of(code).payment_intent_id
    assert row.payment_intent_ids == [balance_pi, deposit.id], (row.payments, balance_pi, deposit.id, row.explanation)
    assert (row.captured_minor, row.amount_minor) == (PAID, PAID)
    [from_balance] = stripe_refunds(balance_pi)
    [from_deposit] = stripe_refunds(deposit.id)
    assert (from_balance["amount"], from_deposit["amount"]) == (PAID - 5000, 5000)
    row.refresh_from_db()
    assert row.refunded_minor == PAID and sorted(row.refund_ids) == sorted([from_balance["id"], from_deposit["id"]])


def test_a_reviewer_changes_the_amount_of_a_refund_above_the_automation_limit(
    policy: CancellationPolicy,
    automate: StandIns,
    client: Client,
    reviewer: User,
) -> None:
    WorkflowPolicy.objects.filter(workflow="refunds").update(automate_max_amount_minor=5_000)
    code = paid_booking(automate, client, starts_in_days=40)
    cancel(automate, code)
    item = ReviewItem.objects.get(kind=ReviewKind.REFUND, booking_id=code)
    assert (item.amount_minor, item.status) == (PAID, ReviewStatus.OPEN)
    assert "Standard" in item.decision.reason and "the tier for 30 days or more" in " ".join(item.decision.reasons)
    child = review.approve(item.pk, reviewer, changes={"amount_minor": 15_000})
    assert child is not None
    automate.settle()
    [refund] = stripe_refunds(collection_of(code).payment_intent_id)
    assert refund["amount"] == 15_000
    row = CancellationRefund.objects.get(booking_code=code)
    assert (row.status, row.refunded_minor) == (CancellationRefundStatus.REFUNDED, 15_000)
    assert "refunded 150.00 CAD" in mail.outbox[0].body
    assert "Our team set the refund to 150.00 CAD." in mail.outbox[0].body


def test_a_rejected_refund_is_declined_on_the_record_and_moves_no_money(
    policy: CancellationPolicy, automate: StandIns, client: Client, reviewer: User
) -> None:
    WorkflowPolicy.objects.filter(workflow="refunds").update(automate_max_amount_minor=5_000)
    code = paid_booking(automate, client, starts_in_days=40)
    cancel(automate, code)
    item = ReviewItem.objects.get(kind=ReviewKind.REFUND, booking_id=code)
    review.reject(item.pk, reviewer, reason="the customer moved to another date instead")
    automate.settle()
    row = CancellationRefund.objects.get(booking_code=code)
    assert (row.status, row.refunded_minor) == (CancellationRefundStatus.DECLINED, 0)
    assert stripe_refunds(collection_of(code).payment_intent_id) == [] and not mail.outbox


def test_a_booking_no_policy_covers_goes_to_a_person_with_all_that_is_left(
    automate: StandIns, client: Client, settings: Any
) -> None:
    set_refunds_policy(Mode.AUTOMATE)
    WorkflowPolicy.objects.filter(workflow="refunds").update(automate_max_amount_minor=100_000)
    code = paid_booking(automate, client, starts_in_days=40)
    cancel(automate, code)
    row = CancellationRefund.objects.get(booking_code=code)
    assert (row.policy, row.policy_version, row.amount_minor) == (None, "no-policy", PAID)
    proposal = row.decision
    assert proposal is not None and proposal.route == "queue" and "no cancellation policy covers" in proposal.reason
    assert stripe_refunds(collection_of(code).payment_intent_id) == [], "automate mode, but a person decides"


def test_when_one_part_of_a_two_payment_refund_fails_only_that_part_is_proposed_again(
    policy: CancellationPolicy, automate: StandIns, client: Client, approver: User
) -> None:
    from payops.executors import executor_for

    code, deposit = paid_in_two_payments(automate, client)
    cancel(automate, code)
    row = CancellationRefund.objects.get(booking_code=code)
    [from_deposit] = stripe_refunds(deposit.id)
    automate.stripe.fail_refund(from_deposit["id"])
    automate.settle()
    row.refresh_from_db()
    assert (row.status, row.refunded_minor) == (CancellationRefundStatus.PARTLY_FAILED, PAID - 5000)
    # The first decision runs again (a worker's lease ran out): it moves nothing to the other payment.
    executor = executor_for(REFUND)
    assert executor is not None and row.decision is not None
    first = Decision.objects.filter(parent=row.decision).first() or row.decision
    executor(first)
    balance_pi = collection_of(code).payment_intent_id
    assert [r["amount"] for r in stripe_refunds(balance_pi)] == [PAID - 5000]
    retry = ReviewItem.objects.get(kind=ReviewKind.REFUND, booking_id=code, status=ReviewStatus.OPEN)
    assert (retry.amount_minor, retry.decision.params["payment_intent_ids"]) == (5000, [deposit.id])
    review.approve(retry.pk, approver)
    automate.settle()
    row.refresh_from_db()
    assert (row.status, row.refunded_minor) == (CancellationRefundStatus.REFUNDED, PAID)
    assert sorted(r["status"] for r in stripe_refunds(deposit.id)) == ["failed", "succeeded"]
    assert len(row.refund_ids) == 2 and len(mail.outbox) == 1


def test_duplicate_and_concurrent_cancellation_events_refund_once(
    policy: CancellationPolicy,
    automate: StandIns,
    client: Client,
) -> None:
    code = paid_booking(automate, client, starts_in_days=40)
    # The cancellation arrives while its task is lost (a worker died): nothing is worked out yet.
    booking_signals.booking_cancelled.disconnect(dispatch_uid="refunds.cancelled")
    try:
        cancel(automate, code)
    finally:
        booking_signals.booking_cancelled.connect(on_booking_cancelled, dispatch_uid="refunds.cancelled")
    assert not CancellationRefund.objects.filter(booking_code=code).exists()
    start = threading.Barrier(2)

    def work_out() -> object:
        start.wait()
        try:
            return propose_for_cancellation(code)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result() for f in [pool.submit(work_out), pool.submit(work_out)]]
    automate.settle()
    assert sum(r is not None for r in results) == 1, results
    # Replays: the webhook again, the sweep command, the task again.
    automate.checkfront.modify_booking(code, status_id="STOP", note="cancelled again")
    call_command("propose_cancellation_refunds", "--booking", code)
    assert propose_for_cancellation(code) is None
    automate.settle()
    assert CancellationRefund.objects.filter(booking_code=code).count() == 1
    assert Decision.objects.filter(action=REFUND, booking_id=code, parent=None).count() == 1
    [refund] = stripe_refunds(collection_of(code).payment_intent_id)
    assert refund["amount"] == PAID and len(mail.outbox) == 1


def test_a_failed_refund_is_recorded_and_proposed_again_for_a_person(
    policy: CancellationPolicy,
    automate: StandIns,
    client: Client,
    approver: User,
) -> None:
    code = paid_booking(automate, client, starts_in_days=40)
    cancel(automate, code)
    pi = collection_of(code).payment_intent_id
    [refund] = stripe_refunds(pi)
    automate.stripe.fail_refund(refund["id"])  # the bank sends it back: the card was closed
    automate.settle()
    row = CancellationRefund.objects.get(booking_code=code)
    assert row.status == CancellationRefundStatus.PARTLY_FAILED and refund["id"] in row.failure
    assert row.refunded_minor == 0
    item = ReviewItem.objects.get(kind=ReviewKind.REFUND, booking_id=code, status=ReviewStatus.OPEN)
    assert item.amount_minor == PAID and "failed at the bank (expired_or_canceled_card)" in item.decision.reason
    failure_notes = [n for n in notes_on(code) if n.startswith(f"Refund of 186.90 CAD (Stripe {refund['id']}) failed")]
    assert len(failure_notes) == 1, notes_on(code)
    automate.stripe.resend_event(_last_event(automate, "refund.updated"))  # a replay proposes nothing more
    automate.settle()
    assert ReviewItem.objects.filter(kind=ReviewKind.REFUND, booking_id=code).count() == 1 + 0
    review.approve(item.pk, approver)
    automate.settle()
    retried = [r for r in stripe_refunds(pi) if r["id"] != refund["id"]]
    assert [(r["amount"], r["status"]) for r in retried] == [(PAID, "succeeded")]
    row.refresh_from_db()
    assert (row.status, row.refunded_minor) == (CancellationRefundStatus.REFUNDED, PAID)
    assert len([n for n in notes_on(code) if n.startswith("Refund of")]) == 1, "the replay noted nothing more"
    assert any(n.startswith("Refunded 186.90 CAD") and "approved by april" in n for n in notes_on(code))


def test_a_refund_made_in_the_dashboard_is_noted_and_counted_against_the_cancellation(
    policy: CancellationPolicy, automate: StandIns, client: Client
) -> None:
    code = paid_booking(automate, client, starts_in_days=12)
    pi = collection_of(code).payment_intent_id
    # Staff refund 20.00 in the Stripe Dashboard: no PayOps metadata.
    outside = stripe_gateway().create_refund(
        idempotency_key=f"dashboard-{code}", payment_intent_id=pi, amount_minor=2000
    )
    automate.settle()
    assert f"Refunded 20.00 CAD to the card in Stripe, outside PayOps (Stripe {outside.id}, reason none given)" in (
        notes_on(code)
    )
    cancel(automate, code)
    row = CancellationRefund.objects.get(booking_code=code)
    # 50 % of 186.90 is 93.45; the 20.00 already back counts against it.
    assert (row.refunded_before_minor, row.amount_minor) == (2000, PAID // 2 - 2000)
    assert any("Already refunded before: 20.00 CAD" in step for step in row.explanation)
    assert sorted(r["amount"] for r in stripe_refunds(pi)) == [2000, PAID // 2 - 2000]
    assert len([n for n in notes_on(code) if "outside PayOps" in n]) == 1, "our own refund is not noted as outside"


def _last_event(sims: StandIns, event_type: str) -> str:
    deliveries = [d for d in sims.stripe.webhook_deliveries() if d.get("event_type") == event_type]  # newest first
    assert deliveries, sims.stripe.webhook_deliveries()[:3]
    return str(deliveries[0]["event_id"])


def test_the_sweep_command_refuses_what_it_cannot_work_out(policy: CancellationPolicy) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no mirrored booking with code NOPE-1"):
        call_command("propose_cancellation_refunds", "--booking", "NOPE-1")
    with pytest.raises(CommandError, match="--days takes 1 to 366"):
        call_command("propose_cancellation_refunds", "--days", "0")
    with pytest.raises(CommandError, match="not both"):
        call_command("propose_cancellation_refunds", "--days", "3", "--booking", "X-1")


def test_the_sweep_finds_a_cancellation_whose_task_was_lost(
    policy: CancellationPolicy, automate: StandIns, client: Client
) -> None:
    code = paid_booking(automate, client, starts_in_days=40)
    booking_signals.booking_cancelled.disconnect(dispatch_uid="refunds.cancelled")
    try:
        cancel(automate, code)
    finally:
        booking_signals.booking_cancelled.connect(on_booking_cancelled, dispatch_uid="refunds.cancelled")
    call_command("propose_cancellation_refunds", "--days", "1")
    automate.settle()
    assert CancellationRefund.objects.get(booking_code=code).status == CancellationRefundStatus.REFUNDED
    call_command("propose_cancellation_refunds", "--days", "1")  # again: nothing new
    assert len(stripe_refunds(collection_of(code).payment_intent_id)) == 1
