"""Signal receivers of the refunds app: thin, no network I/O.

A cancellation starts the task that works out the refund after the
mirror's transaction commits. A refund Stripe reports failed is recorded
and proposed again for a person to decide (money that came back to the
balance is the customer's still); it, and any refund made outside PayOps,
is noted on the Checkfront booking.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from bookings import signals as booking_signals
from bookings.models import Booking
from payops import stripe_signals
from refunds import booking_notes, failures


def on_booking_cancelled(sender: Any, *, booking: Booking, **kwargs: Any) -> None:
    from refunds.tasks import refund_cancellation

    code = booking.code
    # When the mirror saw it: the tier must not move if the task runs late or Checkfront's booking changes again.
    seen = (booking.checkfront_modified_at or timezone.now()).isoformat()
    transaction.on_commit(lambda: refund_cancellation.delay(code, cancelled_at=seen))


def on_refund_changed(sender: Any, *, stripe_object: dict[str, Any], event: Any = None, **kwargs: Any) -> None:
    if stripe_object.get("object") != "refund":
        return
    ours = bool((stripe_object.get("metadata") or {}).get("payops_decision_id"))
    if stripe_object.get("status") == "failed":
        if ours:
            failures.refund_failed(stripe_object)
        booking_notes.failed_note(stripe_object)
    elif not ours and getattr(event, "event_type", "") == "refund.created":
        # Our own refunds are noted when they are made; one from the Dashboard is noted here.
        booking_notes.outside_note(stripe_object)


def connect() -> None:
    uid = "refunds"
    booking_signals.booking_cancelled.connect(on_booking_cancelled, dispatch_uid=f"{uid}.cancelled")
    stripe_signals.refund_changed.connect(on_refund_changed, dispatch_uid=f"{uid}.refund_changed")
