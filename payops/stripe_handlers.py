"""Inbox handlers for Stripe events: feed the dj-stripe mirror, then send the domain signal."""

from __future__ import annotations

import logging

from django.db import transaction

from payops.event_handlers import handles
from payops.models import InboundEvent
from payops.stripe_mirror import mirror_event
from payops.stripe_signals import SIGNAL_FOR_EVENT

logger = logging.getLogger(__name__)

# The events PayOps's webhook endpoint subscribes to (README: "Pointing PayOps
# at Stripe"). Each is mirrored; those in SIGNAL_FOR_EVENT also reach workflows.
STRIPE_EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "payment_method.attached",
    "payment_method.detached",
    "payment_method.updated",
    "setup_intent.created",
    "setup_intent.succeeded",
    "setup_intent.setup_failed",
    "setup_intent.canceled",
    "setup_intent.requires_action",
    "payment_intent.created",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.succeeded",
    "charge.failed",
    "charge.pending",
    "charge.captured",
    "charge.expired",
    "charge.updated",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "radar.early_fraud_warning.created",
    "radar.early_fraud_warning.updated",
    "product.created",
    "product.updated",
    "price.created",
    "price.updated",
)


@handles("stripe", *STRIPE_EVENT_TYPES)
def on_stripe_event(event: InboundEvent) -> None:
    # One transaction: if a receiver fails, the mirror write is undone too and
    # the inbox retries the whole event.
    with transaction.atomic():
        mirrored = mirror_event(event.payload)
        signal = SIGNAL_FOR_EVENT.get(event.event_type)
        if signal is not None:
            stripe_object = event.payload.get("data", {}).get("object", {})
            signal.send(sender=type(mirrored), event=event, stripe_object=stripe_object, mirrored=mirrored)
    logger.info("Stripe %s %s mirrored", event.event_type, event.event_id)
