"""Signal receivers of payment collection: thin, no network I/O, each hands one domain function what it needs.

They run inside the sender's transaction (the mirror's, or the Stripe
handler's), so the Decisions they record commit with the change that caused
them, and execution is queued on commit.
"""

from __future__ import annotations

from typing import Any

from bookings import signals as booking_signals
from bookings.mirror import is_payable
from bookings.models import CLOSED_STATUSES, Booking
from payments import collection
from payops import stripe_signals
from payops.stripe_payloads import object_id
from payops.stripe_queries import BOOKING_METADATA_KEY


def on_booking_payable(sender: Any, *, booking: Booking, **kwargs: Any) -> None:
    collection.propose_collection(booking=booking)


def on_booking_changed(sender: Any, *, booking: Booking, changed_fields: list[str], **kwargs: Any) -> None:
    # While a payment request is open it follows the booking: a new amount
    # due changes it, nothing left to pay withdraws it (cancellations have
    # their own signal).
    if not {"due_minor", "currency", "status"} & set(changed_fields):
        return
    if collection.open_collection(booking.code) is None or booking.status in CLOSED_STATUSES:
        return
    if is_payable(booking.status, booking.due_minor):
        collection.propose_collection(booking=booking)
    else:
        collection.propose_cancellation(booking=booking)


def on_booking_cancelled(sender: Any, *, booking: Booking, **kwargs: Any) -> None:
    collection.propose_cancellation(booking=booking)


def on_payment_succeeded(
    sender: Any, *, stripe_object: dict[str, Any], mirrored: Any, stale: bool, **kwargs: Any
) -> None:
    if stale or stripe_object.get("object") != "payment_intent":
        return
    metadata = {**(stripe_object.get("metadata") or {}), **(getattr(mirrored, "metadata", None) or {})}
    collection.propose_confirmation(
        payment=collection.SucceededPayment(
            payment_intent_id=str(stripe_object["id"]),
            booking_code=str(metadata.get(BOOKING_METADATA_KEY) or ""),
            amount_minor=int(stripe_object.get("amount_received") or stripe_object.get("amount") or 0),
            currency=str(stripe_object.get("currency") or ""),
            charge_id=object_id(stripe_object.get("latest_charge")),
        )
    )


def on_payment_canceled(sender: Any, *, stripe_object: dict[str, Any], stale: bool, **kwargs: Any) -> None:
    if not stale and stripe_object.get("object") == "payment_intent":
        collection.payment_canceled_at_stripe(payment_intent_id=str(stripe_object["id"]))


def connect() -> None:
    uid = "payments"
    booking_signals.booking_became_payable.connect(on_booking_payable, dispatch_uid=f"{uid}.payable")
    booking_signals.booking_changed.connect(on_booking_changed, dispatch_uid=f"{uid}.changed")
    booking_signals.booking_cancelled.connect(on_booking_cancelled, dispatch_uid=f"{uid}.cancelled")
    stripe_signals.payment_succeeded.connect(on_payment_succeeded, dispatch_uid=f"{uid}.succeeded")
    stripe_signals.payment_canceled.connect(on_payment_canceled, dispatch_uid=f"{uid}.canceled")
