"""Events API (retrieve, list) and the event types the simulator emits, in the order Stripe sends them."""

from __future__ import annotations

from typing import Any

from payops.stripe_sim.context import Ctx, Doc
from payops.stripe_sim.listing import Prefix, page
from payops.stripe_sim.params import LIST_CREATED, Arr, Bool, Str

# Every type the simulator emits (webhook endpoints may also name other Stripe types).
EVENT_TYPES = (
    "customer.created customer.updated customer.deleted "
    "payment_method.attached payment_method.detached payment_method.updated "
    "setup_intent.created setup_intent.requires_action setup_intent.succeeded setup_intent.setup_failed "
    "setup_intent.canceled "
    "payment_intent.created payment_intent.requires_action payment_intent.amount_capturable_updated "
    "payment_intent.succeeded payment_intent.payment_failed payment_intent.canceled "
    "charge.succeeded charge.failed charge.captured charge.updated charge.refunded charge.expired "
    "charge.refund.updated refund.created refund.updated refund.failed "
    "charge.dispute.created charge.dispute.updated charge.dispute.closed charge.dispute.funds_withdrawn "
    "charge.dispute.funds_reinstated radar.early_fraud_warning.created "
    "product.created product.updated product.deleted price.created price.updated price.deleted"
).split()
LIST_PARAMS = {**LIST_CREATED, "type": Str(), "types": Arr(Str(), max_items=20), "delivery_success": Bool()}


def retrieve(ctx: Ctx, params: dict[str, Any], event_id: str) -> Doc:
    return ctx.load("event", event_id).doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters: dict[str, Any] = {}
    if params.get("type"):
        kind = params["type"]
        filters["type"] = Prefix(kind[:-1]) if kind.endswith("*") else kind
    if params.get("types"):
        filters["type"] = params["types"]
    return page(ctx, "event", params, url="/v1/events", filters=filters)


def matches(enabled_events: list[str], event_type: str) -> bool:
    return "*" in enabled_events or event_type in enabled_events
