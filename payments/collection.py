"""Payment collection, the domain: what to propose when a booking or a payment changes, and the collection's states.

Functions here only touch the database (receivers call them inside the
mirror's transaction); the outside writes are the executors' (executors.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import Decision, Outcome
from bookings.mirror import is_payable
from bookings.models import CLOSED_STATUSES, Booking
from payments.models import CollectionStatus, PaymentCollection
from payops.money import from_minor
from payops.policy_gate import Proposal, submit_proposal

logger = logging.getLogger(__name__)

WORKFLOW = "payments"
COLLECT = "payments.collect"
CONFIRM_BOOKING = "payments.confirm_booking"
CANCEL_PAYMENT = "payments.cancel_payment"
MODEL_VERSION = "rules-1"
# Proposals of these outcomes will still run (or wait for a person): a second one would only repeat them.
_IN_FLIGHT = [Outcome.PENDING, Outcome.EXECUTING, Outcome.QUEUED]


def money(amount_minor: int, currency: str) -> str:
    """'CAD 48.30', as customers and staff read it."""
    return f"{currency.upper()} {from_minor(amount_minor, currency)}"


def _rule_proposal(**fields: Any) -> Proposal:
    # A rule, not a model: it is certain of what it proposes and takes no risk.
    return Proposal(
        workflow=WORKFLOW, score=0, confidence=1.0, model_version=MODEL_VERSION, moves_money=False, **fields
    )


def open_collection(booking_code: str) -> PaymentCollection | None:
    return PaymentCollection.objects.filter(booking_code=booking_code, status=CollectionStatus.OPEN).first()


def _in_flight(action: str, **filters: Any) -> bool:
    return Decision.objects.filter(workflow=WORKFLOW, action=action, outcome__in=_IN_FLIGHT, **filters).exists()


# --- proposals (receivers call these, inside the mirror's transaction) ---------------------------


def propose_collection(*, booking: Booking, now: datetime | None = None) -> Decision | None:
    """Ask for what Checkfront says is due, once: None when it is already asked for or not to be asked."""
    now = now or timezone.now()
    amount, currency = booking.due_minor, booking.currency.lower()
    if not is_payable(booking.status, amount):
        return None
    if booking.start_at is not None and booking.start_at <= now:
        # Bookings already under way (or over) are settled at the desk; the
        # first sync of an old account must not send them pay links.
        logger.info("booking %s started %s; no pay link", booking.code, booking.start_at)
        return None
    current = open_collection(booking.code)
    if current is not None and (current.amount_minor, current.currency) == (amount, currency):
        logger.info("booking %s already has an open collection for %s", booking.code, money(amount, currency))
        return None
    if _in_flight(COLLECT, booking_id=booking.code, amount_minor=amount, currency=currency):
        return None
    due = money(amount, currency)
    if current is None:
        reason = f"Booking {booking.code} has {due} due and no payment request: send a pay link for {due}"
        reasons = [f"Checkfront says {due} is due", f"status {booking.status}", "no open payment request"]
    else:
        was = money(current.amount_minor, current.currency)
        reason = f"The amount due on booking {booking.code} changed from {was} to {due}: ask for {due} instead"
        reasons = [f"Checkfront says {due} is due", f"the open payment request asks for {was}"]
    return submit_proposal(
        _rule_proposal(
            action=COLLECT,
            reason=reason,
            reasons=reasons,
            params={"booking_code": booking.code},
            booking_id=booking.code,
            amount_minor=amount,
            currency=currency,
        )
    )


@dataclass(frozen=True)
class SucceededPayment:
    """What a payment_succeeded signal says, in our words."""

    payment_intent_id: str
    booking_code: str
    amount_minor: int
    currency: str
    charge_id: str = ""


def propose_confirmation(*, payment: SucceededPayment) -> Decision | None:
    """Record a collected payment on its Checkfront booking, once per PaymentIntent."""
    # Locked: a replay and the live delivery of one success must not both propose.
    collection = (
        PaymentCollection.objects.select_for_update().filter(payment_intent_id=payment.payment_intent_id).first()
    )
    if collection is None:
        logger.info(
            "%s (booking %s) was not created by payment collection; ignored",
            payment.payment_intent_id,
            payment.booking_code or "-",
        )
        return None
    mark_succeeded(collection)  # Stripe's word; recording it in Checkfront is the decision
    if collection.checkfront_paid_at is not None or collection.flag_reason:
        logger.info("%s is already recorded on %s", payment.payment_intent_id, collection.booking_code)
        return None
    if _in_flight(CONFIRM_BOOKING, booking_id=collection.booking_code):
        return None
    paid = money(payment.amount_minor, payment.currency)
    return submit_proposal(
        _rule_proposal(
            action=CONFIRM_BOOKING,
            reason=f"The customer paid {paid} for booking {collection.booking_code}: record it in Checkfront",
            reasons=["Stripe reports the payment succeeded", f"it pays the collection opened for {paid}"],
            params={
                "payment_intent_id": payment.payment_intent_id,
                "collection_id": collection.pk,
                "amount_minor": payment.amount_minor,
                "currency": payment.currency,
            },
            booking_id=collection.booking_code,
            stripe_ids=[i for i in (payment.payment_intent_id, payment.charge_id) if i],
        )
    )


def propose_cancellation(*, booking: Booking) -> Decision | None:
    """Withdraw the open payment request of a booking cancelled, or with nothing left to pay, once."""
    collection = open_collection(booking.code)
    if collection is None or _in_flight(CANCEL_PAYMENT, booking_id=booking.code):
        return None
    asked = money(collection.amount_minor, collection.currency)
    if booking.status in CLOSED_STATUSES:
        why = "booking cancelled"
        reason = f"Booking {booking.code} was cancelled ({booking.status}) before the customer paid {asked}"
    else:
        # Paid in full elsewhere (at the desk, by another link): a second payment would need a refund.
        why = "nothing is due any more"
        reason = f"Booking {booking.code} has nothing left to pay in Checkfront (status {booking.status})"
    return submit_proposal(
        _rule_proposal(
            action=CANCEL_PAYMENT,
            reason=f"{reason}: withdraw the payment request for {asked}",
            reasons=[
                f"Checkfront status {booking.status}, {money(booking.due_minor, booking.currency)} due",
                f"open payment request for {asked}",
            ],
            params={"collection_id": collection.pk, "payment_intent_id": collection.payment_intent_id, "why": why},
            booking_id=booking.code,
            stripe_ids=[collection.payment_intent_id] if collection.payment_intent_id else [],
        )
    )


# --- the collection's states (executors and receivers) --------------------------------------------


def reserve_collection(
    *, decision: Decision, booking_code: str, checkfront_customer_id: str, amount_minor: int, currency: str
) -> tuple[PaymentCollection, bool]:
    """The booking's open collection, or a new one for this decision. True if it was made now.

    Made before anything is sent to Stripe: the one-open-per-booking
    constraint then stops a second decision for the same booking from
    creating a second PaymentIntent.
    """
    with transaction.atomic():
        current = PaymentCollection.objects.select_for_update().filter(
            booking_code=booking_code, status=CollectionStatus.OPEN
        )
        existing = current.first()
        if existing is not None:
            return existing, False
        return (
            PaymentCollection.objects.create(
                booking_code=booking_code,
                checkfront_customer_id=checkfront_customer_id,
                amount_minor=amount_minor,
                currency=currency,
                decision=decision,
            ),
            True,
        )


def known_stripe_customer(checkfront_customer_id: str) -> str:
    """The Stripe customer an earlier collection used for this Checkfront customer, if any."""
    if not checkfront_customer_id:
        return ""
    found: QuerySet[PaymentCollection] = PaymentCollection.objects.filter(
        checkfront_customer_id=checkfront_customer_id
    ).exclude(stripe_customer_id="")
    return found.values_list("stripe_customer_id", flat=True).order_by("-created_at").first() or ""


def save_fields(collection: PaymentCollection, **fields: Any) -> PaymentCollection:
    """Write a few fields through save(), so the change is in the history."""
    for name, value in fields.items():
        setattr(collection, name, value)
    collection.save(update_fields=[*fields, "updated_at"])
    return collection


def mark_succeeded(collection: PaymentCollection, **fields: Any) -> PaymentCollection:
    if collection.status == CollectionStatus.SUCCEEDED and not fields:
        return collection
    return save_fields(
        collection, status=CollectionStatus.SUCCEEDED, paid_at=collection.paid_at or timezone.now(), **fields
    )


def mark_canceled(collection: PaymentCollection) -> PaymentCollection:
    if collection.status == CollectionStatus.CANCELED:
        return collection
    return save_fields(collection, status=CollectionStatus.CANCELED, canceled_at=timezone.now())


def payment_canceled_at_stripe(*, payment_intent_id: str) -> None:
    """A PaymentIntent canceled elsewhere (the Dashboard, dunning) closes its open collection."""
    collection = PaymentCollection.objects.filter(
        payment_intent_id=payment_intent_id, status=CollectionStatus.OPEN
    ).first()
    if collection is not None:
        mark_canceled(collection)
        logger.info("collection for %s closed: %s was canceled at Stripe", collection.booking_code, payment_intent_id)


def booking_for_payment(payment_intent_id: str, metadata: dict[str, Any] | None = None) -> str:
    """The booking a payment was for: our collection's, else the mirrored PaymentIntent's metadata, else the
    metadata given (an event's object); "" when none names one."""
    from djstripe.models import PaymentIntent

    from payops.stripe_queries import BOOKING_METADATA_KEY

    if payment_intent_id:
        code = (
            PaymentCollection.objects.filter(payment_intent_id=payment_intent_id)
            .values_list("booking_code", flat=True)
            .first()
        )
        if code:
            return str(code)
        intent = PaymentIntent.objects.filter(id=payment_intent_id).first()
        if intent is not None:
            found = (intent.stripe_data.get("metadata") or {}).get(BOOKING_METADATA_KEY)
            if found:
                return str(found)
    return str((metadata or {}).get(BOOKING_METADATA_KEY) or "")
