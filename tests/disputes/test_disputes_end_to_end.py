"""A dispute becomes an evidence package for a person; approved over HTTP, it reaches Stripe before the deadline.

Against both stand-ins: the customer pays a Checkfront booking with a Stripe
dispute test card, the stand-in disputes the charge and posts
`charge.dispute.created`, PayOps assembles the package (reading Checkfront's
notes) and queues it; a reviewer edits and approves it in the console; the
stand-in decides by Stripe's test-mode evidence rule and posts
`charge.dispute.closed`.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from audit.models import Decision, Outcome, Route
from bookings.models import Booking
from disputes.actions import ASSEMBLE, REVIEW_MARGIN, SUBMIT
from disputes.evidence import EVIDENCE_FIELDS
from disputes.models import CaseStatus, DisputeCase
from fraud.models import FraudLabel, LabelSource
from payops.executors import ExecutionError, executor_for
from payops.models import EventStatus, InboundEvent, ReviewItem, ReviewStatus
from payops.stripe_gateway import stripe_gateway
from refunds.models import CancellationPolicy, PolicyTier
from tests.disputes.conftest import CUSTOMER, CUSTOMER_NOTE, IP, case_of, disputed_booking, item_of, stripe_dispute
from tests.payments.conftest import collection_of, new_booking, notes_on
from tests.stand_ins import StandIns

pytestmark = pytest.mark.django_db(transaction=True)

STAFF_NOTE = "Customer phoned to confirm the pick-up time"


def form_of(client: Client, item: ReviewItem) -> dict[str, str]:
    """The approve form as the panel renders it: every evidence textarea with its current text."""
    html = client.get(f"/queue/{item.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Submit evidence" in html
    fields = dict(re.findall(r'<textarea name="([a-z_]+)"[^>]*>(.*?)</textarea>', html, flags=re.S))
    assert set(fields) == set(EVIDENCE_FIELDS), sorted(fields)
    import html as html_lib

    return {name: html_lib.unescape(text) for name, text in fields.items()}


def approve_over_http(client: Client, item: ReviewItem, **edits: str) -> tuple[int, str]:
    form = {**form_of(client, item), **edits}
    response = client.post(f"/queue/{item.pk}/approve/", form, HTTP_HX_REQUEST="true")
    return response.status_code, response.content.decode()


def test_a_dispute_produces_a_package_with_the_bookings_evidence_due_before_the_deadline(
    disputes_on: StandIns,
) -> None:
    policy = CancellationPolicy.objects.create(name="Standard", currency="cad")
    PolicyTier.objects.create(policy=policy, min_days_before=7, refund_percent=100)
    code = disputed_booking(disputes_on, staff_note=f"{STAFF_NOTE}; paid the rest with 4242 4242 4242 4242")
    case = case_of(code)
    pi = collection_of(code).payment_intent_id
    assert (case.status, case.reason, case.payment_intent_id, case.currency) == (
        CaseStatus.IN_REVIEW,
        "fraudulent",
        pi,
        "cad",
    )
    assert case.amount_minor == collection_of(code).amount_minor and case.evidence_due_by is not None
    item = item_of(code)
    # Due well before Stripe's deadline, and queued for a person even though the policy automates.
    assert item.due_by is not None and item.due_by <= case.evidence_due_by - REVIEW_MARGIN
    assert (item.status, item.action, item.decision.route) == (ReviewStatus.OPEN, SUBMIT, Route.QUEUE)
    assert item.decision.route_reason == "this action always needs a person"
    evidence = item.params
    assert evidence["customer_name"] == CUSTOMER["name"]
    assert evidence["customer_email_address"] == CUSTOMER["email"]
    assert evidence["customer_purchase_ip"] == IP
    assert "12 Wharf St" in evidence["billing_address"]
    booking = Booking.objects.get(code=code)
    assert booking.start_at is not None and booking.end_at is not None
    assert evidence["service_date"].startswith(timezone.localtime(booking.start_at).date().isoformat())
    assert evidence["service_date"].endswith(timezone.localtime(booking.end_at).date().isoformat())
    assert code in evidence["product_description"] and "Harbour Kayak Tour" in evidence["product_description"]
    text = evidence["uncategorized_text"]
    # The rebuttal for a fraud dispute first, then the payment history, receipts and the booking's notes.
    assert text.startswith(f"The disputed payment of CAD {collection_of(code).amount_minor / 100:.2f}")
    assert "We believe the cardholder authorised this payment" in text and f"IP address {IP}" in text
    assert case.charge_id in text and "this is the disputed charge" in text and "Receipts:" in text
    assert f"staff: {STAFF_NOTE}; paid the rest with [card number removed]" in text  # read from Checkfront itself
    assert "4242 4242" not in str(item.params) and "4242 4242" not in str(case.package)
    assert "PayOps: Pay CAD" in text  # the pay link PayOps noted on the booking
    assert CUSTOMER_NOTE in evidence["access_activity_log"]
    assert evidence["cancellation_policy_disclosure"].endswith(f"({policy.version()}): {policy.in_words()}")
    # The rules' output: a score, a confidence, a version and reasons, on the Decision and the case.
    proposal = item.decision
    assert proposal.score is not None and proposal.score == case.loss_risk and 0 <= proposal.score <= 100
    assert proposal.confidence is not None and 0 < proposal.confidence <= 0.6
    assert proposal.model_version == "dispute-rules-1" and proposal.reasons
    assert any("IP address" in r for r in proposal.reasons)
    # A fraud dispute labels the booking as fraud at once (provisionally: the outcome relabels it).
    assert FraudLabel.objects.get(source=LabelSource.DISPUTE, source_id=case.dispute_id).is_fraud is True
    [assembly] = Decision.objects.filter(action=ASSEMBLE, booking_id=code)
    assert assembly.outcome == Outcome.EXECUTED and assembly.outcome_detail["proposal"] == str(proposal.pk)
    assert {case.dispute_id, case.charge_id, pi} <= set(proposal.stripe_ids)


def test_a_reviewer_edits_the_evidence_and_approves_over_http_and_stripe_has_it_before_the_deadline(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    client.force_login(reviewer)
    rebuttal = "winning_evidence"  # Stripe's test-mode text: the bank decides for the merchant at once
    status, html = approve_over_http(client, item, uncategorized_text=rebuttal, customer_name="Dana J. Fox")
    assert status == 200 and "approved with changes" in html, html[:2000]
    disputes_on.settle()

    at_stripe = stripe_dispute(disputes_on, case.dispute_id)
    assert at_stripe["status"] == "won"
    assert at_stripe["evidence"]["uncategorized_text"] == rebuttal
    assert at_stripe["evidence"]["customer_name"] == "Dana J. Fox"
    assert at_stripe["evidence"]["customer_purchase_ip"] == IP
    assert at_stripe["evidence"]["shipping_carrier"] is None  # an empty field is left out
    assert at_stripe["evidence_details"]["submission_count"] == 1
    assert at_stripe["metadata"]["payops_decision_id"] == str(item.decision_id)
    case.refresh_from_db()
    assert case.status == CaseStatus.WON and case.closed_at is not None
    assert case.submitted_at is not None and case.evidence_due_by is not None
    assert case.submitted_at < case.evidence_due_by
    assert case.submitted_evidence["uncategorized_text"] == rebuttal
    assert case.package["uncategorized_text"] != rebuttal  # the draft stays as drafted
    item.refresh_from_db()
    assert item.status == ReviewStatus.EXECUTED
    # The outcome came while the submission was still finishing: the person's approval keeps its result.
    item.decision.refresh_from_db()
    assert item.decision.outcome == Outcome.EXECUTED
    notes = notes_on(code)
    assert any("approved with changes (customer_name Dana Fox → Dana J. Fox" in n for n in notes), notes
    assert any("uncategorized text edited" in n for n in notes)
    assert any(n.startswith("Evidence for the fraudulent dispute") and "approved by rita" in n for n in notes)
    # Won: the cardholder's fraud claim failed, so the booking is labelled legitimate.
    label = FraudLabel.objects.get(source=LabelSource.DISPUTE, source_id=case.dispute_id)
    assert label.is_fraud is False
    # The opening event delivered again after the win: the label follows the dispute as it is now.
    from django.core.management import call_command

    call_command(
        "replay_events", "--source", "stripe", "--type", "charge.dispute.created", "--status", "processed", "--sync"
    )
    label.refresh_from_db()
    assert label.is_fraud is False

    # A worker that died after Stripe answered runs again: nothing is sent twice.
    child = Decision.objects.get(parent=item.decision, action=SUBMIT)
    executor = executor_for(SUBMIT)
    assert executor is not None
    assert executor(child)["status"] == "won"
    assert stripe_dispute(disputes_on, case.dispute_id)["evidence_details"]["submission_count"] == 1


def test_a_lost_fraud_dispute_becomes_a_fraud_label(disputes_on: StandIns, client: Client, reviewer: User) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    client.force_login(reviewer)
    status, _ = approve_over_http(client, item, uncategorized_text="losing_evidence")
    assert status == 200
    disputes_on.settle()
    case.refresh_from_db()
    assert case.status == CaseStatus.LOST
    label = FraudLabel.objects.get(source=LabelSource.DISPUTE, source_id=case.dispute_id)
    assert (label.is_fraud, label.booking_code, label.payment_intent_id) == (True, code, case.payment_intent_id)


def test_replayed_dispute_events_create_nothing_twice(disputes_on: StandIns, client: Client, reviewer: User) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    client.force_login(reviewer)
    assert approve_over_http(client, item, uncategorized_text="losing_evidence")[0] == 200
    disputes_on.settle()
    events = InboundEvent.objects.filter(event_type__startswith="charge.dispute.", status=EventStatus.PROCESSED)
    assert {"charge.dispute.created", "charge.dispute.closed"} <= set(events.values_list("event_type", flat=True))
    for event in events:
        assert disputes_on.stripe.resend_event(event.event_id)  # Stripe delivers it again: a duplicate
    from django.core.management import call_command

    call_command("replay_events", "--source", "stripe", "--type", "charge.dispute.*", "--status", "processed", "--sync")
    disputes_on.settle()
    assert DisputeCase.objects.filter(dispute_id=case.dispute_id).count() == 1
    assert Decision.objects.filter(action=ASSEMBLE, booking_id=code).count() == 1
    assert Decision.objects.filter(action=SUBMIT, booking_id=code, parent=None).count() == 1
    assert ReviewItem.objects.filter(booking_id=code, action=SUBMIT).count() == 1
    assert FraudLabel.objects.filter(source_id=case.dispute_id).count() == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.LOST
    assert stripe_dispute(disputes_on, case.dispute_id)["evidence_details"]["submission_count"] == 1


def test_an_approval_after_stripes_deadline_is_refused_with_the_reason(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    # Time has run out (the case holds Stripe's deadline as the dispute gave it).
    DisputeCase.objects.filter(pk=case.pk).update(evidence_due_by=timezone.now() - timedelta(minutes=1))
    client.force_login(reviewer)
    status, html = approve_over_http(client, item)
    assert status == 409
    assert "Stripe&#x27;s evidence deadline passed at" in html and "it no longer takes evidence" in html
    disputes_on.settle()
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN
    assert not Decision.objects.filter(parent=item.decision, action=SUBMIT).exists()
    at_stripe = stripe_dispute(disputes_on, case.dispute_id)
    assert (at_stripe["status"], at_stripe["evidence_details"]["submission_count"]) == ("needs_response", 0)


def test_a_dispute_left_unanswered_closes_lost_its_review_expires_and_nothing_is_sent_after(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    disputes_on.stripe.advance_clock(8 * 86_400)  # past Stripe's deadline: the bank decides for the cardholder
    disputes_on.settle()
    case.refresh_from_db()
    item.refresh_from_db()
    assert (case.status, case.stripe_status, case.submitted_at) == (CaseStatus.LOST, "lost", None)
    assert item.status == ReviewStatus.EXPIRED
    item.decision.refresh_from_db()
    assert item.decision.outcome == Outcome.EXPIRED
    assert "closed (lost) before evidence was submitted" in item.decision.outcome_detail["expired"]
    client.force_login(reviewer)
    response = client.post(f"/queue/{item.pk}/approve/", {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409 and "already expired" in response.content.decode()
    # An approval that was already running when the dispute closed is refused by the executor, with the reason.
    late = Decision.objects.create(
        trace_id="t",
        workflow="disputes",
        booking_id=code,
        action=SUBMIT,
        params=item.params,
        amount_minor=case.amount_minor,
        currency=case.currency,
        reason="approved",
        mode="manual",
        route=Route.EXECUTE,
        outcome=Outcome.EXECUTING,
        actor_type="user",
        actor=reviewer,
        parent=item.decision,
    )
    executor = executor_for(SUBMIT)
    assert executor is not None
    with pytest.raises(ExecutionError, match="Stripe shows the dispute lost: evidence can no longer be submitted"):
        executor(late)
    assert stripe_dispute(disputes_on, case.dispute_id)["evidence_details"]["submission_count"] == 0


def test_a_viewer_may_read_the_package_but_not_submit_it(disputes_on: StandIns, client: Client, viewer: User) -> None:
    code = disputed_booking(disputes_on)
    item = item_of(code)
    client.force_login(viewer)
    panel = client.get(f"/queue/{item.pk}/", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200 and case_of(code).dispute_id in panel.content.decode()
    response = client.post(f"/queue/{item.pk}/approve/", {"uncategorized_text": "x"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert stripe_dispute(disputes_on, case_of(code).dispute_id)["evidence_details"]["submission_count"] == 0


def test_an_evidence_text_over_stripes_limit_is_refused_and_nothing_is_sent(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    client.force_login(reviewer)
    status, html = approve_over_http(client, item, product_description="x" * 20_001)
    assert status == 400 and "product_description: at most 20,000 characters (this is 20,001)" in html
    status, html = approve_over_http(client, item, uncategorized_text="Paid with 4000 0000 0000 0259")
    assert status == 400 and "uncategorized_text: holds what looks like a card number" in html
    status, html = approve_over_http(client, item, uncategorized_text="card 4242 4242 4242 4242 123 (with its CVC)")
    assert status == 400 and "holds what looks like a card number" in html
    # Each text within its limit, but all of them over Stripe's limit for the whole package.
    status, html = approve_over_http(client, item, **dict.fromkeys(sorted(EVIDENCE_FIELDS)[:8], "y" * 19_999))
    assert status == 400 and "at most 150,000 characters of evidence in all" in html
    status, html = approve_over_http(client, item, **dict.fromkeys(EVIDENCE_FIELDS, ""))
    assert status == 400 and "the package holds no evidence" in html
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN and item.params == item.decision.params
    assert stripe_dispute(disputes_on, case.dispute_id)["evidence_details"]["submission_count"] == 0


def test_the_panel_shows_the_dispute_its_deadline_and_what_to_add(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    client.force_login(reviewer)
    html = client.get(f"/queue/{item.pk}/").content.decode()  # the whole page, as a link opens it
    assert 'id="dispute-case"' in html and case.dispute_id in html and "<code>fraudulent</code>" in html
    assert "Stripe&#x27;s deadline" in html and "Loss risk" in html and "dispute-rules-1" in html
    assert "Submit evidence" in html and html.count("<textarea name=") == len(EVIDENCE_FIELDS)


def paid_in_the_browser(sims: StandIns, code: str, payment_method: str) -> None:
    """Stripe.js confirms the payment in the customer's browser (cards the stand-in's pay page does not list)."""
    stripe_gateway().confirm_payment_intent(
        collection_of(code).payment_intent_id, idempotency_key=f"browser-{code}", payment_method_id=payment_method
    )
    sims.settle()


def test_a_not_received_claim_gets_its_own_rebuttal_and_is_answered_the_same_way(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = new_booking(disputes_on, customer=CUSTOMER, source_ip=IP)
    paid_in_the_browser(disputes_on, code, "pm_card_createDisputeProductNotReceived")
    case, item = case_of(code), item_of(code)
    assert (case.reason, case.status) == ("product_not_received", CaseStatus.IN_REVIEW)
    assert "The booking was never cancelled" in item.params["uncategorized_text"]
    assert "We believe the cardholder authorised" not in item.params["uncategorized_text"]
    client.force_login(reviewer)
    assert approve_over_http(client, item)[0] == 200  # as drafted
    disputes_on.settle()
    at_stripe = stripe_dispute(disputes_on, case.dispute_id)
    # Other evidence than Stripe's test strings waits for the bank: under review.
    assert at_stripe["status"] == "under_review"
    assert at_stripe["evidence"]["service_date"] == item.params["service_date"] != ""
    disputes_on.stripe.resolve_dispute(case.dispute_id, "won")
    disputes_on.settle()
    case.refresh_from_db()
    assert case.status == CaseStatus.WON
    assert not FraudLabel.objects.filter(source_id=case.dispute_id).exists()  # not a fraud claim: no label


def test_an_inquiry_is_answered_before_it_becomes_a_chargeback(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = new_booking(disputes_on, customer=CUSTOMER, source_ip=IP)
    paid_in_the_browser(disputes_on, code, "pm_card_createDisputeInquiry")
    case, item = case_of(code), item_of(code)
    assert case.inquiry and case.stripe_status == "warning_needs_response"
    assert any("an inquiry, not yet a chargeback" in r for r in item.decision.reasons)
    client.force_login(reviewer)
    assert approve_over_http(client, item)[0] == 200
    disputes_on.settle()
    assert stripe_dispute(disputes_on, case.dispute_id)["status"] == "warning_under_review"
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    disputes_on.stripe.resolve_dispute(case.dispute_id, "won")
    disputes_on.settle()
    case.refresh_from_db()
    assert (case.status, case.stripe_status) == (CaseStatus.INQUIRY_CLOSED, "warning_closed")


def test_a_rejected_package_sends_nothing_and_the_case_says_it_is_not_contested(
    disputes_on: StandIns, client: Client, reviewer: User
) -> None:
    code = disputed_booking(disputes_on)
    case, item = case_of(code), item_of(code)
    client.force_login(reviewer)
    response = client.post(
        f"/queue/{item.pk}/reject/", {"reason": "customer was refunded by cheque"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "marked not contested" in response.content.decode()
    disputes_on.settle()
    case.refresh_from_db()
    assert case.status == CaseStatus.DECLINED and case.submitted_at is None
    assert any("rejected: customer was refunded by cheque, by rita" in n for n in notes_on(code))
    assert stripe_dispute(disputes_on, case.dispute_id)["evidence_details"]["submission_count"] == 0
    disputes_on.stripe.advance_clock(8 * 86_400)  # the deadline passes unanswered
    disputes_on.settle()
    case.refresh_from_db()
    item.refresh_from_db()
    assert (case.status, item.status) == (CaseStatus.LOST, ReviewStatus.REJECTED)
