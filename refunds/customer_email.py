"""The email telling a customer what their cancellation refunds and why: sent once per cancellation."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from bookings.models import Booking
from refunds.actions import money
from refunds.models import CancellationPolicy, CancellationRefund

logger = logging.getLogger(__name__)


def _customer_steps(row: CancellationRefund) -> list[str]:
    """The computation as the customer should read it: no internal routing, and the amount a person set."""
    steps = [step for step in row.explanation if "for a person to decide" not in step]
    if row.refunded_minor != row.amount_minor:
        steps.append(f"Our team set the refund to {money(row.refunded_minor, row.currency)}.")
    return steps


def render(row: CancellationRefund, booking: Booking | None) -> tuple[str, str]:
    policy = CancellationPolicy.objects.filter(pk=row.policy_id).first() if row.policy_id else None
    text = render_to_string(
        "refunds/email/cancellation_refund.txt",
        {
            "name": ((booking.customer_name if booking else "") or "").split(" ")[0] or None,
            "booking": row.booking_code,
            "amount": money(row.refunded_minor, row.currency),
            "steps": _customer_steps(row),
            "policy": policy.in_words() if policy else "",
        },
    ).strip()
    subject, _, body = text.partition("\n")
    return subject.removeprefix("Subject:").strip(), body.strip()


def send_once(row: CancellationRefund) -> bool:
    """Email the refund to the customer unless done; True when sent now. Raises OSError when the mail server fails."""
    if row.emailed_at is not None:
        return False
    booking = Booking.objects.filter(code=row.booking_code).first()
    to = booking.customer_email if booking else ""
    if not to:
        logger.warning("refund of %s not emailed: no customer email on the booking", row.booking_code)
        return False
    subject, body = render(row, booking)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    # Marked only if still unmarked: two workers finishing together send at most one more, never zero.
    CancellationRefund.objects.filter(pk=row.pk, emailed_at=None).update(emailed_at=timezone.now())
    return True
