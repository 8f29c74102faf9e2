"""Dunning emails: short, personal, in the booking's language where known, each also noted on the Checkfront booking.

Each message is a CustomerMessage row keyed by (decision, kind): written
before sending, so an executor that runs again sends nothing twice and only
finishes what is missing (the email, or the note).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from bookings.checkfront_client import CheckfrontClient, CheckfrontError
from dunning.models import CustomerMessage, MessageKind, RecoveryCase
from payops.money import from_minor

logger = logging.getLogger(__name__)

# Languages with their own templates; anything else gets English.
LANGUAGES = ("en", "fr", "de", "es")


class MessageNotDelivered(Exception):
    """The email or the Checkfront note could not be written now; the executor retries."""


@dataclass(frozen=True)
class MessageFacts:
    """What a message may say, beyond the case itself."""

    reason_text: str = ""  # what happened, in plain words (from the decline verdict)
    next_attempt_at: datetime | None = None
    link: str = ""


def language_for(case: RecoveryCase) -> str:
    code = (case.language or "en").split("-")[0].lower()
    return code if code in LANGUAGES else "en"


def render(case: RecoveryCase, kind: str, facts: MessageFacts) -> tuple[str, str, str]:
    """(language, subject, body) for a message of `kind` about `case`."""
    language = language_for(case)
    context = {
        "name": (case.customer_name or "").split(" ")[0] or None,
        "booking": case.booking_code,
        "amount": f"{from_minor(case.amount_minor, case.currency)} {case.currency.upper()}",
        "reason": facts.reason_text,
        "next_attempt": facts.next_attempt_at,
        "link": facts.link,
        "service_start": case.service_start_at,
    }
    with translation.override(language):
        text = render_to_string(f"dunning/email/{kind}.{language}.txt", context).strip()
    subject, _, body = text.partition("\n")
    return language, subject.removeprefix("Subject:").strip(), body.strip()


def send_once(*, case: RecoveryCase, decision_id: str, kind: str, facts: MessageFacts) -> CustomerMessage:
    """Email the customer and note the booking, once per (decision, kind). Raises MessageNotDelivered to retry."""
    if kind not in MessageKind.values:
        raise ValueError(f"unknown message kind {kind!r}")
    language, subject, body = render(case, kind, facts)
    message, _ = CustomerMessage.objects.get_or_create(
        decision_id=decision_id,
        kind=kind,
        defaults={"case": case, "language": language, "to": case.customer_email, "subject": subject, "body": body},
    )
    if message.sent_at is None and message.to:
        try:
            send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.to])
        except OSError as exc:  # SMTP down: try again later, the row remembers what to send
            raise MessageNotDelivered(f"email to {message.to} not sent: {exc}") from exc
        CustomerMessage.objects.filter(pk=message.pk).update(sent_at=timezone.now())
    if message.noted_at is None:
        note = f"PayOps emailed {message.to or 'no address on file'}: {message.subject}\n\n{message.body}"
        try:
            CheckfrontClient().add_note(case.booking_code, note[:3000])
        except CheckfrontError as exc:
            raise MessageNotDelivered(f"note on {case.booking_code} not written: {exc}") from exc
        CustomerMessage.objects.filter(pk=message.pk).update(noted_at=timezone.now())
    message.refresh_from_db()
    logger.info(
        "dunning %s message for %s: sent %s, noted %s", kind, case.booking_code, message.sent_at, message.noted_at
    )
    return message
