"""Signal receivers of fraud scoring: thin, no network I/O, each hands one domain function what it needs.

They run in the sender's transaction, so an assessment, its Decision and a
hold commit with the change that caused them. Scoring fails open: an error
in it (a broken GeoIP file, a bug) is logged and rolled back to a savepoint,
and the booking and its payment carry on unscored rather than the whole
event failing with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils import timezone

from bookings import signals as booking_signals
from bookings.models import Booking
from fraud import labels, workflow
from fraud.facts import payment_facts
from payments import signals as payment_signals
from payops import stripe_signals

logger = logging.getLogger(__name__)


@contextmanager
def _fail_open(what: str) -> Iterator[None]:
    try:
        with transaction.atomic():
            yield
    except Exception:
        logger.exception("fraud scoring failed for %s; it carries on unscored", what)


def on_booking_payable(sender: Any, *, booking: Booking, **kwargs: Any) -> None:
    with _fail_open(f"booking {booking.code}"):
        workflow.screen_booking(booking=booking)


def _payment_receiver(*, captured: bool) -> Callable[..., None]:
    def receive(sender: Any, *, stripe_object: dict[str, Any], stale: bool, **kwargs: Any) -> None:
        # A payment authorized first was scored then; screen_payment scores each payment once.
        if stale or stripe_object.get("object") != "payment_intent":
            return
        with _fail_open(f"payment {stripe_object.get('id')}"):
            workflow.screen_payment(intent=stripe_object, captured=captured)

    return receive


on_payment_authorized = _payment_receiver(captured=False)
on_payment_succeeded = _payment_receiver(captured=True)


def on_payment_failed(sender: Any, *, stripe_object: dict[str, Any], event: Any = None, **kwargs: Any) -> None:
    if stripe_object.get("object") != "payment_intent":
        return
    error = stripe_object.get("last_payment_error") or {}
    method = error.get("payment_method") or {}
    charge = {"id": error.get("charge") or "", "payment_method_details": {"card": method.get("card") or {}}}
    payment = payment_facts(stripe_object, charge)
    code = labels.booking_of(payment.payment_intent_id, stripe_object.get("metadata"))
    # One row per failure: the event names it even when no charge was made.
    source = str(getattr(event, "event_id", "") or payment.charge_id)
    if code:
        with _fail_open(f"failed payment {payment.payment_intent_id}"):
            workflow.record_failure(booking_code=code, payment=payment, at=timezone.now(), source_id=source)


def on_pay_page_opened(sender: Any, *, booking_code: str, ip: str, device: str, **kwargs: Any) -> None:
    with _fail_open(f"pay page of {booking_code}"):
        workflow.record_checkout(booking_code=booking_code, ip=ip, device=device)


def connect() -> None:
    uid = "fraud"
    booking_signals.booking_became_payable.connect(on_booking_payable, dispatch_uid=f"{uid}.payable")
    stripe_signals.payment_authorized.connect(on_payment_authorized, dispatch_uid=f"{uid}.authorized")
    stripe_signals.payment_succeeded.connect(on_payment_succeeded, dispatch_uid=f"{uid}.succeeded")
    stripe_signals.payment_failed.connect(on_payment_failed, dispatch_uid=f"{uid}.failed")
    stripe_signals.dispute_opened.connect(labels.on_dispute, dispatch_uid=f"{uid}.dispute_opened")
    stripe_signals.dispute_closed.connect(labels.on_dispute, dispatch_uid=f"{uid}.dispute_closed")
    stripe_signals.early_fraud_warning.connect(labels.on_early_fraud_warning, dispatch_uid=f"{uid}.efw")
    stripe_signals.refund_changed.connect(labels.on_refund, dispatch_uid=f"{uid}.refund")
    payment_signals.pay_page_opened.connect(on_pay_page_opened, dispatch_uid=f"{uid}.pay_page")
