"""Reads of the Stripe mirror (dj-stripe's tables) that console views share.

dj-stripe 2.11 keeps most Stripe fields in `stripe_data` JSON, so filters read
`stripe_data__…` and the rows below lift what the console shows out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from djstripe import models as djstripe_models

# The metadata key PayOps writes on every PaymentIntent it creates.
BOOKING_METADATA_KEY = "checkfront_booking_id"
PAYMENT_STATUSES = [
    ("requires_payment_method", "Needs a payment method"),
    ("requires_action", "Needs authentication"),
    ("requires_capture", "Authorized"),
    ("processing", "Processing"),
    ("succeeded", "Succeeded"),
    ("canceled", "Canceled"),
]


@dataclass(frozen=True)
class PaymentRow:
    id: str
    created: datetime | None
    booking_id: str
    customer_email: str
    amount_minor: int
    currency: str
    status: str
    decline_code: str
    decline_message: str
    risk_level: str
    risk_score: int | None
    amount_refunded_minor: int
    disputed: bool


@dataclass(frozen=True)
class MirrorCounts:
    customers: int
    payment_intents: int
    charges: int
    refunds: int
    disputes: int
    events: int
    last_event_type: str
    last_event_at: datetime | None


def _decline(data: dict[str, Any]) -> tuple[str, str]:
    error = data.get("last_payment_error") or {}
    return str(error.get("decline_code") or error.get("code") or ""), str(error.get("message") or "")


def recent_payments(*, search: str = "", status: str = "", limit: int = 50) -> list[PaymentRow]:
    intents = djstripe_models.PaymentIntent.objects.select_related("customer").order_by("-created", "-djstripe_id")
    if status:
        intents = intents.filter(stripe_data__status=status)
    if search:
        intents = intents.filter(
            Q(id__icontains=search)
            | Q(**{f"metadata__{BOOKING_METADATA_KEY}__icontains": search})
            | Q(customer__stripe_data__email__icontains=search)
        )
    page = list(intents[:limit])
    charge_ids = [str(pi.stripe_data.get("latest_charge") or "") for pi in page]
    charges = {c.id: c.stripe_data for c in djstripe_models.Charge.objects.filter(id__in=[i for i in charge_ids if i])}
    rows = []
    for intent, charge_id in zip(page, charge_ids, strict=True):
        data = intent.stripe_data
        charge = charges.get(charge_id, {})
        outcome = charge.get("outcome") or {}
        decline_code, decline_message = _decline(data)
        rows.append(
            PaymentRow(
                id=intent.id,
                created=intent.created,
                booking_id=str((intent.metadata or {}).get(BOOKING_METADATA_KEY, "")),
                customer_email=str((intent.customer.stripe_data.get("email") if intent.customer else "") or ""),
                amount_minor=int(data.get("amount") or 0),
                currency=str(data.get("currency") or ""),
                status=str(data.get("status") or ""),
                decline_code=decline_code,
                decline_message=decline_message,
                risk_level=str(outcome.get("risk_level") or ""),
                risk_score=outcome.get("risk_score"),
                amount_refunded_minor=int(charge.get("amount_refunded") or 0),
                disputed=bool(charge.get("disputed")),
            )
        )
    return rows


def mirror_counts() -> MirrorCounts:
    last = djstripe_models.Event.objects.order_by("-djstripe_created").first()
    return MirrorCounts(
        customers=djstripe_models.Customer.objects.count(),
        payment_intents=djstripe_models.PaymentIntent.objects.count(),
        charges=djstripe_models.Charge.objects.count(),
        refunds=djstripe_models.Refund.objects.count(),
        disputes=djstripe_models.Dispute.objects.count(),
        events=djstripe_models.Event.objects.count(),
        last_event_type=last.type if last else "",
        last_event_at=last.djstripe_created if last else None,
    )
