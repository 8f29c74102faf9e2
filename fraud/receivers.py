"""Signal receivers of fraud scoring: thin, no network I/O, each hands one domain function what it needs.

They run in the sender's transaction, so an assessment, its Decision and a
hold commit with the change that caused them.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from bookings import signals as booking_signals
from bookings.models import Booking
from fraud import labels, workflow
from fraud.facts import payment_facts
from payments import signals as payment_signals
from payops import stripe_signals


def on_booking_payable(sender: Any, *, booking: Booking, **kwargs: Any) -> None:
    workflow.screen_booking(booking=booking)


def on_payment_authorized(sender: Any, *, stripe_object: dict[str, Any], stale: bool, **kwargs: Any) -> None:
    if not stale and stripe_object.get("object") == "payment_intent":
        workflow.screen_payment(intent=stripe_object, captured=False)


def on_payment_succeeded(sender: Any, *, stripe_object: dict[str, Any], stale: bool, **kwargs: Any) -> None:
    # A payment authorized first was scored then; screen_payment scores each payment once.
    if not stale and stripe_object.get("object") == "payment_intent":
        workflow.screen_payment(intent=stripe_object, captured=True)


def on_payment_failed(sender: Any, *, stripe_object: dict[str, Any], **kwargs: Any) -> None:
    if stripe_object.get("object") != "payment_intent":
        return
    error = stripe_object.get("last_payment_error") or {}
    charge = {
        "id": error.get("charge") or "",
        "payment_method_details": {"card": (error.get("payment_method") or {}).get("card") or {}},
    }
    payment = payment_facts(stripe_object, charge)
    code = labels.booking_of(payment.payment_intent_id, stripe_object.get("metadata"))
    if code:
        workflow.record_failure(booking_code=code, payment=payment, at=timezone.now())


def on_pay_page_opened(sender: Any, *, booking_code: str, ip: str, device: str, **kwargs: Any) -> None:
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
