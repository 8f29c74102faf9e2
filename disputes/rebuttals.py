"""Short rebuttal drafts, one per Stripe dispute reason, and the evidence field each belongs in.

A draft states only what the facts show (the booking, the service date, the
policy, the payments) and leaves the judgement to the reviewer, who edits it
before anything is sent. Stripe reads the rebuttal of a fraud or a general
dispute in `uncategorized_text`; other reasons have a field of their own.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone

from disputes.facts import DisputeFacts
from payops.money import from_minor

REBUTTAL_VERSION = "rebuttals-1"

# Stripe's evidence field that carries the rebuttal for each reason; the rest use uncategorized_text.
REBUTTAL_FIELD: dict[str, str] = {
    "credit_not_processed": "refund_refusal_explanation",
    "subscription_canceled": "cancellation_rebuttal",
    "duplicate": "duplicate_charge_explanation",
}
DEFAULT_FIELD = "uncategorized_text"
# Stripe's card checks, as a bank's reader knows them.
CHECK_NAMES = {
    "cvc_check": "CVC",
    "address_line1_check": "billing address",
    "address_postal_code_check": "postal code",
}


def rebuttal_field(reason: str) -> str:
    return REBUTTAL_FIELD.get(reason, DEFAULT_FIELD)


def _money(amount_minor: int, currency: str) -> str:
    return f"{currency.upper()} {from_minor(amount_minor, currency)}"


def _service(facts: DisputeFacts) -> str:
    booking = facts.booking
    if booking is None or booking.start_at is None:
        return "the booked service"
    when = timezone.localtime(booking.start_at, timezone.get_default_timezone()).strftime("%d %B %Y")
    if booking.status in ("STOP", "VOID"):
        state = "cancelled"
    else:
        state = "its date has passed" if booking.start_at <= timezone.now() else "still to come"
    return f"the booked service on {when} ({state})"


def _booking_line(facts: DisputeFacts) -> str:
    b = facts.booking
    case = facts.case
    if b is None:
        return f"The disputed payment of {_money(case.amount_minor, case.currency)} (Stripe charge {case.charge_id})."
    who = f"{b.customer_name} <{b.customer_email}>" if b.customer_email else b.customer_name
    return (
        f"The disputed payment of {_money(case.amount_minor, case.currency)} (Stripe charge {case.charge_id}) paid for "
        f"booking {b.code}, made by {who or 'the customer'}"
        + (f" on {timezone.localtime(b.booked_at, timezone.get_default_timezone()):%d %B %Y}" if b.booked_at else "")
        + f", for {_service(facts)}."
    )


def _fraudulent(facts: DisputeFacts) -> str:
    words = [_booking_line(facts)]
    pay = facts.disputed_payment
    if pay is not None:
        passed = [CHECK_NAMES.get(name, name) for name, v in sorted(pay.checks.items()) if v == "pass"]
        if passed:
            words.append(f"The card's {', '.join(passed)} check{'s' if len(passed) > 1 else ''} passed.")
        if pay.three_d_secure == "authenticated":
            words.append("The cardholder completed 3D Secure authentication.")
        elif pay.three_d_secure == "attempt_acknowledged":
            words.append("3D Secure authentication was attempted and acknowledged by the card issuer.")
    if facts.booking is not None and facts.booking.source_ip:
        words.append(f"The booking was made from IP address {facts.booking.source_ip}.")
    if facts.earlier_paid_bookings:
        words.append(
            f"The same customer has {facts.earlier_paid_bookings} earlier paid booking"
            f"{'s' if facts.earlier_paid_bookings > 1 else ''} with us"
            + (" and never disputed them." if not facts.earlier_disputes else ".")
        )
    words.append("We believe the cardholder authorised this payment; the booking details are below.")
    return " ".join(words)


def _not_received(facts: DisputeFacts) -> str:
    words = [_booking_line(facts)]
    b = facts.booking
    if b is not None and b.status in ("STOP", "VOID"):
        words.append(f"The booking was cancelled (status in our booking system: {b.status_name or b.status}).")
        words.append("The booking details, its cancellation and any refund are below.")
    else:
        if b is not None:
            words.append(
                f"The booking was never cancelled (status in our booking system: {b.status_name or b.status})."
            )
        words.append("The service was available to the customer as booked; the booking details and notes are below.")
    return " ".join(words)


def _credit_not_processed(facts: DisputeFacts) -> str:
    words = [_booking_line(facts)]
    refunded = sum(r.amount_minor for r in facts.refunds if r.status in ("succeeded", "pending"))
    case = facts.case
    owed = facts.policy.owed_minor if facts.policy is not None else None
    if owed is not None:
        words.append(f"On cancellation our policy gave back {_money(owed, case.currency)}.")
    if refunded:
        words.append(f"We have refunded {_money(refunded, case.currency)} so far.")
    else:
        words.append("No refund has been made for this booking.")
    if facts.policy is not None:
        words.append(f"The policy {facts.policy.when}: {facts.policy.words}")
    return " ".join(words)


def _duplicate(facts: DisputeFacts) -> str:
    others = [p for p in facts.payments if p.charge_id != facts.case.charge_id and p.status == "succeeded"]
    words = [_booking_line(facts)]
    if others and facts.booking is not None:
        paid = sum(p.amount_minor - p.refunded_minor for p in facts.payments if p.status == "succeeded")
        words.append(
            f"The booking's total is {_money(facts.booking.total_minor, facts.booking.currency)}; the payments for it "
            f"come to {_money(paid, facts.case.currency)} after refunds: each charge paid for a different part of it."
        )
    else:
        words.append("This is the only payment for this booking: there is no duplicate charge.")
    return " ".join(words)


def _unacceptable(facts: DisputeFacts) -> str:
    return (
        f"{_booking_line(facts)} The service was as described when booked; the booking's notes, including any "
        "contact with the customer, are below."
    )


def _general(facts: DisputeFacts) -> str:
    return f"{_booking_line(facts)} The booking, its payments and our correspondence with the customer are below."


_DRAFTS: dict[str, Callable[[DisputeFacts], str]] = {
    "fraudulent": _fraudulent,
    "unrecognized": _fraudulent,
    "product_not_received": _not_received,
    "product_unacceptable": _unacceptable,
    "credit_not_processed": _credit_not_processed,
    "subscription_canceled": _credit_not_processed,
    "duplicate": _duplicate,
}


def draft(facts: DisputeFacts) -> str:
    """The rebuttal for this dispute's reason (a general one for reasons without their own)."""
    return _DRAFTS.get(facts.case.reason, _general)(facts)
