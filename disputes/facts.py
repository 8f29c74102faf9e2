"""What PayOps knows about a disputed payment, gathered from the mirrors and our own records.

Only the database is read here (the Checkfront booking and customer mirror,
dj-stripe's PaymentIntents, charges, refunds and disputes, the notes and
emails PayOps sent); the notes read from Checkfront itself are handed in by
the caller, which may do network I/O. No card number ever appears: brand,
last4 and the card checks' results only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from djstripe import models as stripe

from bookings.models import Booking, BookingNote, Customer, Transaction
from disputes.models import DisputeCase
from payments.models import PaymentCollection
from payops.card_numbers import redact
from payops.stripe_payloads import object_id
from payops.stripe_queries import BOOKING_METADATA_KEY


@dataclass(frozen=True)
class Note:
    """A note on the booking, or a message to the customer, in time order."""

    at: datetime | None
    author: str  # "customer", "staff", "PayOps", "email to the customer"
    text: str


@dataclass(frozen=True)
class Payment:
    """One charge of the booking, as the Stripe mirror has it."""

    charge_id: str
    payment_intent_id: str
    at: datetime | None
    amount_minor: int
    currency: str
    status: str
    refunded_minor: int
    card: str  # "Visa ending 4242" (never the number)
    checks: dict[str, str]  # cvc_check, address_line1_check, address_postal_code_check → pass/fail/unchecked
    three_d_secure: str  # "authenticated", "attempt_acknowledged"… or ""
    risk_level: str
    receipt_url: str
    receipt_email: str
    disputed: bool


@dataclass(frozen=True)
class Refund:
    refund_id: str
    charge_id: str
    at: datetime | None
    amount_minor: int
    currency: str
    status: str
    reason: str


@dataclass(frozen=True)
class Policy:
    """The cancellation and refund policy for the booking, in words, and which one it is."""

    words: str
    version: str
    # "applied when the booking was cancelled" (the terms kept with its refund), or "in force now"
    # (we do not know which version the customer was shown when booking).
    when: str = "in force now"
    owed_minor: int | None = None  # what it gave back on cancellation, when it was applied


@dataclass(frozen=True)
class DisputeFacts:
    case: DisputeCase
    booking: Booking | None
    customer: Customer | None
    payments: list[Payment]
    refunds: list[Refund]
    desk_transactions: list[Transaction]  # payments and refunds Checkfront recorded
    notes: list[Note]
    policy: Policy | None
    earlier_paid_bookings: int  # the customer's other bookings with money paid
    earlier_disputes: int  # disputes on the customer's other bookings
    gaps: list[str] = field(default_factory=list)

    @property
    def customer_note(self) -> str:
        """What the customer wrote on the booking form (Checkfront's meta.note)."""
        raw = self.booking.raw if self.booking else {}
        meta = raw.get("meta") if isinstance(raw, dict) else None
        note = meta.get("note") if isinstance(meta, dict) else ""
        return redact(note).strip() if isinstance(note, str) else ""

    @property
    def disputed_payment(self) -> Payment | None:
        return next((p for p in self.payments if p.charge_id == self.case.charge_id), None)


def _when(value: Any) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        from datetime import UTC

        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _payment(data: dict[str, Any]) -> Payment:
    details = data.get("payment_method_details") or {}
    card = details.get("card") or {}
    checks = {name: str(value) for name, value in (card.get("checks") or {}).items() if value}
    secure = card.get("three_d_secure") or {}
    brand = str(card.get("brand") or "card").title()
    last4 = str(card.get("last4") or "")
    return Payment(
        charge_id=str(data.get("id") or ""),
        payment_intent_id=object_id(data.get("payment_intent")),
        at=_when(data.get("created")),
        amount_minor=int(data.get("amount_captured") or data.get("amount") or 0),
        currency=str(data.get("currency") or ""),
        status=str(data.get("status") or ""),
        refunded_minor=int(data.get("amount_refunded") or 0),
        card=f"{brand} ending {last4}" if last4 else brand,
        checks=checks,
        three_d_secure=str(secure.get("result") or "") if isinstance(secure, dict) else "",
        risk_level=str((data.get("outcome") or {}).get("risk_level") or ""),
        receipt_url=str(data.get("receipt_url") or ""),
        receipt_email=str(data.get("receipt_email") or ""),
        disputed=bool(data.get("disputed")),
    )


def _refund(data: dict[str, Any]) -> Refund:
    return Refund(
        refund_id=str(data.get("id") or ""),
        charge_id=object_id(data.get("charge")),
        at=_when(data.get("created")),
        amount_minor=int(data.get("amount") or 0),
        currency=str(data.get("currency") or ""),
        status=str(data.get("status") or ""),
        reason=str(data.get("reason") or ""),
    )


def _payments(case: DisputeCase) -> list[Payment]:
    """Every charge of the booking's payments (or, without a booking, of the disputed payment), oldest first."""
    intents = [case.payment_intent_id] if case.payment_intent_id else []
    if case.booking_code:
        intents += list(
            stripe.PaymentIntent.objects.filter(**{f"metadata__{BOOKING_METADATA_KEY}": case.booking_code}).values_list(
                "id", flat=True
            )
        )
        intents += list(
            PaymentCollection.objects.filter(booking_code=case.booking_code)
            .exclude(payment_intent_id="")
            .values_list("payment_intent_id", flat=True)
        )
    charges = stripe.Charge.objects.filter(
        Q(id=case.charge_id) | Q(stripe_data__payment_intent__in=sorted(set(intents)))
    )
    found = [_payment(c.stripe_data) for c in charges]
    return sorted(found, key=lambda p: (p.at is None, p.at, p.charge_id))


def _refunds(payments: list[Payment]) -> list[Refund]:
    charge_ids = [p.charge_id for p in payments]
    rows = stripe.Refund.objects.filter(stripe_data__charge__in=charge_ids) if charge_ids else []
    return sorted((_refund(r.stripe_data) for r in rows), key=lambda r: (r.at is None, r.at, r.refund_id))


def _our_notes(code: str) -> list[Note]:
    """Notes PayOps wrote on the Checkfront booking, and the emails it sent the customer."""
    from dunning.models import CustomerMessage

    notes = [
        Note(n.written_at, "PayOps", n.body)
        for n in BookingNote.objects.filter(booking_code=code, written_at__isnull=False).order_by("written_at")
    ]
    emails = CustomerMessage.objects.filter(case__booking_code=code, sent_at__isnull=False).order_by("sent_at")
    notes += [Note(m.sent_at, "email to the customer", f"{m.subject} (to {m.to})") for m in emails]
    return notes


def policy_for(booking: Booking | None) -> Policy | None:
    """The policy applied when the booking was cancelled, else the one covering it now (refunds' policies)."""
    if booking is None:
        return None
    from refunds.cancellation_quote import Terms, terms_in_words
    from refunds.models import CancellationRefund
    from refunds.policies import policy_in_force

    applied = CancellationRefund.objects.filter(booking_code=booking.code).exclude(terms={}).first()
    if applied is not None:
        return Policy(
            words=terms_in_words(Terms.from_dict(applied.terms)),
            version=applied.policy_version,
            when="applied when the booking was cancelled",
            owed_minor=applied.amount_minor,
        )
    policy = policy_in_force(booking)
    if policy is None:
        return None
    return Policy(words=policy.in_words(), version=policy.version())


def gather(
    case: DisputeCase, *, checkfront_notes: list[Note] | None = None, gaps: list[str] | None = None
) -> DisputeFacts:
    """Everything the evidence builder may use about this dispute.

    `checkfront_notes`: the booking's notes as Checkfront lists them (None when
    they could not be read; then PayOps's own notes stand in for them).
    """
    missing = list(gaps or [])
    booking = (
        Booking.objects.select_related("customer").prefetch_related("items").filter(code=case.booking_code).first()
        if case.booking_code
        else None
    )
    if booking is None:
        missing.append(
            f"booking {case.booking_code} is not in the Checkfront mirror"
            if case.booking_code
            else "the payment names no Checkfront booking"
        )
    payments = _payments(case)
    ours = _our_notes(case.booking_code) if case.booking_code else []
    notes = ours
    if checkfront_notes is not None:
        # Checkfront shows PayOps's notes as the API account's; say they are ours.
        written = {n.text for n in ours if n.author == "PayOps"}
        notes = [Note(n.at, "PayOps", n.text) if n.text in written else n for n in checkfront_notes]
        # Emails are not notes in Checkfront; PayOps's own record of them is.
        notes += [n for n in ours if n.author == "email to the customer"]
    notes.sort(key=lambda n: (n.at is None, n.at))
    policy = policy_for(booking)
    if booking is not None and policy is None:
        missing.append("no cancellation policy covers this booking")
    earlier_paid = earlier_disputes = 0
    if booking is not None and booking.customer_email:
        others = Booking.objects.filter(customer_email__iexact=booking.customer_email).exclude(pk=booking.pk)
        earlier_paid = others.filter(paid_minor__gt=0, booked_at__lt=booking.booked_at or case.opened_at).count()
        other_codes = list(others.values_list("code", flat=True)[:500])
        other_intents = stripe.PaymentIntent.objects.filter(**{f"metadata__{BOOKING_METADATA_KEY}__in": other_codes})
        # A list, not a subquery: PostgreSQL will not compare the JSON charge id with a column of text.
        other_charges = list(
            stripe.Charge.objects.filter(payment_intent__in=other_intents).values_list("id", flat=True)
        )
        earlier_disputes = stripe.Dispute.objects.filter(stripe_data__charge__in=other_charges).count()
    return DisputeFacts(
        case=case,
        booking=booking,
        customer=booking.customer if booking else None,
        payments=payments,
        refunds=_refunds(payments),
        desk_transactions=list(Transaction.objects.filter(booking_code=case.booking_code).order_by("occurred_at"))
        if case.booking_code
        else [],
        notes=notes,
        policy=policy,
        earlier_paid_bookings=earlier_paid,
        earlier_disputes=earlier_disputes,
        gaps=missing,
    )
