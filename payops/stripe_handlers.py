"""Inbox handlers for Stripe events: feed the dj-stripe mirror, then send the domain signal."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from djstripe.models.base import StripeModel

from payops.event_handlers import handles
from payops.models import InboundEvent
from payops.stripe_mirror import MODEL_FOR_OBJECT, mirror_event
from payops.stripe_payloads import event_object
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
    if bool(event.payload.get("livemode")) != settings.STRIPE_LIVE_MODE:
        # A test endpoint's secret beside the live one must not let test
        # payments reach live workflows (or the reverse).
        logger.warning(
            "Stripe %s %s is livemode=%s but PayOps runs with STRIPE_LIVE_MODE=%s; not mirrored",
            event.event_type,
            event.event_id,
            event.payload.get("livemode"),
            settings.STRIPE_LIVE_MODE,
        )
        return
    # Network reads first, with no transaction open (see stripe_mirror).
    mirrored = mirror_event(event.payload)
    signal = SIGNAL_FOR_EVENT.get(event.event_type)
    if signal is None:
        return
    stripe_object = event_object(event.payload)
    if mirrored is None:
        # The object no longer exists at Stripe (or never did: a forged or
        # demo event replayed): there is nothing a workflow could act on.
        logger.warning(
            "Stripe %s %s: %s not found; not signalled", event.event_type, event.event_id, stripe_object.get("id")
        )
        return
    # Receivers record their decisions in one transaction: if one fails, none
    # of theirs stands and the inbox retries the event (mirroring again is harmless).
    with transaction.atomic():
        signal.send(
            sender=MODEL_FOR_OBJECT[stripe_object["object"]],
            event=event,
            stripe_object=stripe_object,
            mirrored=mirrored,
            stale=is_stale(stripe_object, mirrored),
        )
    logger.info("Stripe %s %s sent to its workflows", event.event_type, event.event_id)


def is_stale(stripe_object: dict[str, Any], mirrored: StripeModel) -> bool:
    """The object has moved on since the event (a later event was processed first)."""
    then, now = stripe_object.get("status"), mirrored.stripe_data.get("status")
    return then is not None and now is not None and then != now
