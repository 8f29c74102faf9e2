"""Fraud labels: what became known about a payment afterwards, from reviewers, disputes, Stripe and refunds.

Automatic blocks are not labels: a model must not learn from its own
decisions. A booking's label for training is its latest (fraud/training.py).
"""

from __future__ import annotations

import logging
from typing import Any

from fraud.models import FraudLabel, LabelSource
from payments.collection import booking_for_payment
from payops.stripe_payloads import object_id

logger = logging.getLogger(__name__)


def record(
    *, booking_code: str, is_fraud: bool, source: str, source_id: str, payment_intent_id: str = "", charge_id: str = ""
) -> FraudLabel | None:
    """Add or update the label from one source (one dispute, one warning…); None when the payment is not a booking's."""
    if not booking_code:
        logger.info("%s %s names no booking; no fraud label", source, source_id)
        return None
    label, created = FraudLabel.objects.update_or_create(
        source=source,
        source_id=source_id,
        defaults={
            "booking_code": booking_code,
            "is_fraud": is_fraud,
            "payment_intent_id": payment_intent_id,
            "charge_id": charge_id,
        },
    )
    logger.info(
        "%s label for booking %s from %s %s",
        "fraud" if is_fraud else "legitimate",
        booking_code,
        source,
        "(new)" if created else "(updated)",
    )
    return label


def booking_of(payment_intent_id: str, metadata: dict[str, Any] | None = None) -> str:
    """The booking a payment was for (payments' rule: our collection's, else the metadata's)."""
    return booking_for_payment(payment_intent_id, metadata)


def fraud_reported(payment_intent_id: str) -> str:
    """Why this payment is known to be fraud (a warning, a dispute), or "" when nothing says so."""
    found = FraudLabel.objects.filter(payment_intent_id=payment_intent_id, is_fraud=True).first()
    return f"reported as fraud ({found.get_source_display()})" if found else ""


def _charge_ids(stripe_object: dict[str, Any]) -> tuple[str, str]:
    return object_id(stripe_object.get("payment_intent")), object_id(stripe_object.get("charge"))


# --- receivers (inside the Stripe handler's transaction) --------------------------------------------------


# A dispute that ends like this was not fraud: the cardholder's claim failed (won), or an inquiry closed
# without a chargeback (warning_closed).
NOT_FRAUD_OUTCOMES = ("won", "warning_closed")


def on_dispute(sender: Any, *, stripe_object: dict[str, Any], mirrored: Any = None, **kwargs: Any) -> None:
    """A dispute for fraud is a fraud label; if it closes won, the cardholder's claim failed: legitimate.

    The status is the mirror's (the dispute as it is now), not the event's: a replayed
    `charge.dispute.created` after the win must not make the label fraud again.
    """
    if stripe_object.get("reason") != "fraudulent":
        return
    now = getattr(mirrored, "stripe_data", None) or {}
    status = str(now.get("status") or stripe_object.get("status") or "")
    pi_id, charge_id = _charge_ids(stripe_object)
    record(
        booking_code=booking_of(pi_id, stripe_object.get("metadata")),
        is_fraud=status not in NOT_FRAUD_OUTCOMES,
        source=LabelSource.DISPUTE,
        source_id=str(stripe_object["id"]),
        payment_intent_id=pi_id,
        charge_id=charge_id,
    )


def on_early_fraud_warning(sender: Any, *, stripe_object: dict[str, Any], **kwargs: Any) -> None:
    pi_id, charge_id = _charge_ids(stripe_object)
    record(
        booking_code=booking_of(pi_id),
        is_fraud=True,
        source=LabelSource.EARLY_FRAUD_WARNING,
        source_id=str(stripe_object["id"]),
        payment_intent_id=pi_id,
        charge_id=charge_id,
    )


def on_refund(sender: Any, *, stripe_object: dict[str, Any], **kwargs: Any) -> None:
    """A refund made with reason "fraudulent" (by us or in the Dashboard) labels the payment."""
    if stripe_object.get("object") != "refund" or stripe_object.get("reason") != "fraudulent":
        return
    if stripe_object.get("status") in ("failed", "canceled"):
        return
    if (stripe_object.get("metadata") or {}).get("payops_decided_by") == "model":
        return  # our own block's refund: the model must not learn from itself
    pi_id, charge_id = _charge_ids(stripe_object)
    record(
        booking_code=booking_of(pi_id, stripe_object.get("metadata")),
        is_fraud=True,
        source=LabelSource.REFUND,
        source_id=str(stripe_object["id"]),
        payment_intent_id=pi_id,
        charge_id=charge_id,
    )
