"""The evidence package from the mirror: the rebuttal in the field Stripe reads for the reason, limits kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, BookingItem, BookingNote, Customer
from disputes.evidence import EVIDENCE_FIELDS, MAX_FIELD_CHARS, build
from disputes.facts import gather
from disputes.models import DisputeCase
from refunds.models import CancellationPolicy, PolicyTier

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking() -> Booking:
    customer = Customer.objects.create(
        checkfront_id="77", name="Ola Berg", email="ola@example.com", address="3 Pier Rd", city="Victoria", country="CA"
    )
    start = timezone.now() - timedelta(days=3)
    booking = Booking.objects.create(
        checkfront_id=501,
        code="OLAB-011126",
        status="PAID",
        status_name="Paid",
        customer=customer,
        customer_name="Ola Berg",
        customer_email="ola@example.com",
        currency="cad",
        total_minor=18690,
        tax_total_minor=890,
        paid_minor=18690,
        booked_at=start - timedelta(days=20),
        start_at=start,
        end_at=start + timedelta(hours=3),
        source_ip="81.2.69.160",
        raw={"meta": {"note": "Vegetarian lunch please"}},
    )
    BookingItem.objects.create(booking=booking, line_id="1", sku="harbourkayaktour", name="Harbour Kayak Tour", qty=2)
    return booking


def case_for(booking: Booking, reason: str) -> DisputeCase:
    return DisputeCase.objects.create(
        dispute_id=f"dp_{reason}",
        charge_id="ch_1",
        payment_intent_id="pi_1",
        booking_code=booking.code,
        amount_minor=18690,
        currency="cad",
        reason=reason,
        stripe_status="needs_response",
        evidence_due_by=timezone.now() + timedelta(days=7),
        opened_at=timezone.now(),
    )


@pytest.mark.parametrize(
    ("reason", "field", "says"),
    [
        ("fraudulent", "uncategorized_text", "We believe the cardholder authorised this payment"),
        ("product_not_received", "uncategorized_text", "The booking was never cancelled (status in our booking"),
        ("product_unacceptable", "uncategorized_text", "including any contact with the customer"),
        ("credit_not_processed", "refund_refusal_explanation", "No refund has been made for this booking"),
        ("subscription_canceled", "cancellation_rebuttal", "No refund has been made"),
        ("duplicate", "duplicate_charge_explanation", "This is the only payment for this booking"),
        ("general", "uncategorized_text", "its payments and our correspondence with the customer are below"),
    ],
)
def test_each_reason_puts_its_rebuttal_in_the_field_stripe_reads_for_it(
    booking: Booking, reason: str, field: str, says: str
) -> None:
    package = build(gather(case_for(booking, reason)))
    assert set(package.evidence) == set(EVIDENCE_FIELDS)
    rebuttal = package.evidence[field]
    assert rebuttal.startswith("The disputed payment of CAD 186.90 (Stripe charge ch_1) paid for booking OLAB-011126")
    assert says in rebuttal
    assert "(its date has passed)" in rebuttal and "delivered" not in rebuttal  # we never claim what we did not see
    others = {"refund_refusal_explanation", "cancellation_rebuttal", "duplicate_charge_explanation"} - {field}
    assert all(package.evidence[name] == "" for name in others)


def test_the_package_carries_the_booking_customer_and_activity_from_the_mirror(booking: Booking) -> None:
    evidence = build(gather(case_for(booking, "fraudulent"))).evidence
    assert evidence["product_description"].startswith("Booking OLAB-011126\n2 × Harbour Kayak Tour")
    assert "Total CAD 186.90 including tax CAD 8.90; paid CAD 186.90." in evidence["product_description"]
    assert evidence["billing_address"] == "3 Pier Rd, Victoria, CA"
    assert (evidence["customer_name"], evidence["customer_purchase_ip"]) == ("Ola Berg", "81.2.69.160")
    assert "Vegetarian lunch please" in evidence["access_activity_log"]
    assert "Refunds:\n- none" in evidence["uncategorized_text"]


def test_a_long_correspondence_is_cut_to_stripes_limit_and_says_so_keeping_the_rebuttal(booking: Booking) -> None:
    for n in range(300):
        BookingNote.objects.create(
            key=f"k{n}", booking_code=booking.code, body=f"note {n}: " + "x" * 200, written_at=timezone.now()
        )
    package = build(gather(case_for(booking, "fraudulent")))
    text = package.evidence["uncategorized_text"]
    assert len(text) <= MAX_FIELD_CHARS
    assert text.startswith("The disputed payment of") and "Payments:" in text
    assert text.endswith("… (cut to fit Stripe's limit)")


def test_a_payment_without_a_booking_says_what_is_missing() -> None:
    case = DisputeCase.objects.create(
        dispute_id="dp_orphan",
        charge_id="ch_9",
        amount_minor=500,
        currency="usd",
        reason="fraudulent",
        stripe_status="needs_response",
        opened_at=timezone.now(),
    )
    package = build(gather(case))
    assert package.gaps == ["the payment names no Checkfront booking"]
    assert package.evidence["uncategorized_text"].startswith("The disputed payment of USD 5.00 (Stripe charge ch_9).")
    assert package.evidence["customer_name"] == "" and package.evidence["service_date"] == ""


def test_the_policy_is_quoted_with_its_version_and_never_claims_what_was_owed_unworked(booking: Booking) -> None:
    policy = CancellationPolicy.objects.create(name="Standard", currency="cad")
    PolicyTier.objects.create(policy=policy, min_days_before=30, refund_percent=100)
    PolicyTier.objects.create(policy=policy, min_days_before=7, refund_percent=50)
    package = build(gather(case_for(booking, "credit_not_processed")))
    words = policy.in_words()
    assert words.startswith("Cancelled 30 days or more before the start: 100 % refunded.")
    expected = f"The cancellation and refund policy in force now for OLAB-011126 ({policy.version()}): {words}"
    assert package.evidence["cancellation_policy_disclosure"] == expected
    assert package.evidence["refund_policy_disclosure"] == expected
    refusal = package.evidence["refund_refusal_explanation"]
    assert "No refund has been made for this booking." in refusal and "owed" not in refusal
    assert refusal.endswith(f"The policy in force now: {words}")
    assert "say how and when the customer was shown the cancellation policy (the policy fields)" in package.gaps
    assert "no cancellation policy covers this booking" not in package.gaps


def test_a_cancelled_booking_quotes_the_policy_as_applied_and_what_it_gave_back(booking: Booking) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from refunds.models import CancellationRefund

    CancellationRefund.objects.create(
        booking_code=booking.code,
        policy_version="policy-9@abc",
        terms={"tiers": [[7, 50]], "currency": "cad"},
        currency="cad",
        captured_minor=18690,
        refunded_before_minor=0,
        amount_minor=9345,
        payments=[],
        cancelled_at=timezone.now() - timedelta(days=3),
        status="refunded",
    )
    Booking.objects.filter(pk=booking.pk).update(status="STOP")
    booking.refresh_from_db()
    package = build(gather(case_for(booking, "credit_not_processed")))
    applied = "The cancellation and refund policy applied when the booking was cancelled for OLAB-011126 (policy-9@abc)"
    assert package.evidence["cancellation_policy_disclosure"].startswith(applied)
    refusal = package.evidence["refund_refusal_explanation"]
    assert "On cancellation our policy gave back CAD 93.45." in refusal and "(cancelled)" in refusal
