"""Refunds: by PaymentIntent or charge, partial and several, up to what was captured; async outcomes by card.

With Stripe's refund test cards a refund changes status later, here 30
simulated seconds after it was made (advance the clock to see it):
pm_card_pendingRefund starts `pending` and then succeeds; pm_card_refundFail
starts `succeeded` and then fails. Any refund can also be failed through the
control API.
"""

from __future__ import annotations

from typing import Any

from payops.stripe_sim import balance
from payops.stripe_sim.cards import BY_KEY
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import InvalidRequest, ParamError
from payops.stripe_sim.ids import new_id, random_token
from payops.stripe_sim.listing import page
from payops.stripe_sim.money import display
from payops.stripe_sim.params import EXPAND, LIST_CREATED, Bool, Email, Enum, Int, Metadata, Str, merge_metadata

SETTLE_SECONDS = 30  # assumed: Stripe says "some time later"
CREATE = {
    "amount": Int(min=1),
    "charge": Str(),
    "payment_intent": Str(),
    "reason": Enum("duplicate", "fraudulent", "requested_by_customer"),
    "metadata": Metadata(),
    "instructions_email": Email(),
    "refund_application_fee": Bool(),
    "reverse_transfer": Bool(),
    "expand": EXPAND,
}
UPDATE = {"metadata": Metadata(), "expand": EXPAND}
LIST_PARAMS = {**LIST_CREATED, "charge": Str(), "payment_intent": Str()}


def _charge_to_refund(ctx: Ctx, params: dict[str, Any]) -> Record:
    if not params.get("charge") and not params.get("payment_intent"):
        raise ParamError(
            "One of the following params should be provided for this request: payment_intent or charge.",
            code="parameter_missing",
        )
    if params.get("payment_intent"):
        intent = ctx.load("payment_intent", params["payment_intent"], param="payment_intent").doc
        if intent["status"] == "requires_capture":
            raise InvalidRequest(
                f"This PaymentIntent ({intent['id']}) has not been captured; cancel it to release the authorization "
                "instead of refunding it.",
                param="payment_intent",
            )
        if intent["status"] != "succeeded" or not intent["latest_charge"]:
            raise InvalidRequest(
                f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        if params.get("charge") and params["charge"] != intent["latest_charge"]:
            raise InvalidRequest(f"Charge {params['charge']} does not belong to PaymentIntent {intent['id']}.")
        return ctx.load("charge", intent["latest_charge"])
    charge = ctx.load("charge", params["charge"], param="charge")
    if charge.doc["status"] != "succeeded":
        raise InvalidRequest(f"Charge {charge.id} has failed and cannot be refunded.", param="charge")
    if not charge.doc["captured"]:
        raise InvalidRequest(
            f"Charge {charge.id} has not been captured; cancel its PaymentIntent to release the authorization.",
            param="charge",
        )
    return charge


def _chargeback(ctx: Ctx, charge_id: str) -> bool:
    row = ctx.conn.execute(
        "SELECT 1 FROM objects WHERE object = 'dispute' AND json_extract(doc, '$.charge') = ?"
        " AND json_extract(doc, '$.status') NOT LIKE 'warning%'",
        (charge_id,),
    ).fetchone()
    return row is not None


def create(ctx: Ctx, params: dict[str, Any]) -> Doc:
    charge = _charge_to_refund(ctx, params)
    doc = charge.doc
    if _chargeback(ctx, charge.id):
        raise InvalidRequest(
            f"Charge {charge.id} has been charged back; cannot issue a refund.", code="charge_disputed", param="charge"
        )
    remaining = doc["amount_captured"] - doc["amount_refunded"]
    if remaining <= 0:
        raise InvalidRequest(f"Charge {charge.id} has already been refunded.", code="charge_already_refunded")
    amount = params.get("amount", remaining)
    if amount > remaining:
        raise InvalidRequest(
            f"Refund amount ({display(amount, doc['currency'])}) is greater than unrefunded amount on charge "
            f"({display(remaining, doc['currency'])})",
            code="amount_too_large",
            param="amount",
        )
    method = ctx.get(doc["payment_method"])
    behaviour = BY_KEY[method.private["card"]].refund if method else None
    refund_id = new_id("re")
    refund: Doc = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance.create_transaction(
            ctx,
            amount=-amount,
            currency=doc["currency"],
            type="refund",
            reporting_category="refund",
            source=refund_id,
            description="REFUND FOR CHARGE" + (f" ({doc['description']})" if doc.get("description") else ""),
        ),
        "charge": charge.id,
        "created": ctx.now(),
        "currency": doc["currency"],
        "destination_details": {
            "card": {
                "reference": random_token(23).upper(),
                "reference_status": "pending" if behaviour == "pending" else "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": merge_metadata({}, params.get("metadata")),
        "payment_intent": doc["payment_intent"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "pending" if behaviour == "pending" else "succeeded",
        "transfer_reversal": None,
    }
    ctx.insert(refund)
    ctx.emit("refund.created", refund)
    doc["amount_refunded"] += amount
    doc["refunded"] = doc["amount_refunded"] >= doc["amount_captured"]
    ctx.save_and_emit(charge, "charge.refunded")
    if behaviour == "pending":
        ctx.schedule(ctx.now() + SETTLE_SECONDS, "refund_settle", refund_id)
    elif behaviour == "fail":
        ctx.schedule(ctx.now() + SETTLE_SECONDS, "refund_fail", refund_id)
    return refund


def settle(ctx: Ctx, refund_id: str) -> None:
    """Scheduled: a pending refund succeeds."""
    refund = ctx.get(refund_id)
    if refund is None or refund.doc["status"] != "pending":
        return
    refund.doc["status"] = "succeeded"
    refund.doc["destination_details"]["card"]["reference_status"] = "available"
    ctx.save_and_emit(refund, "refund.updated", automatic=True)
    ctx.emit("charge.refund.updated", refund.doc, automatic=True)


def fail(ctx: Ctx, refund_id: str, *, automatic: bool = True) -> Doc:
    """The bank returns the refund: the money comes back to the balance and the charge is refundable again."""
    refund = ctx.load("refund", refund_id)
    doc = refund.doc
    if doc["status"] not in ("pending", "succeeded"):
        raise InvalidRequest(f"Refund {refund_id} is {doc['status']} and cannot fail.")
    doc["status"] = "failed"
    doc["failure_reason"] = "expired_or_canceled_card"
    doc["failure_balance_transaction"] = balance.create_transaction(
        ctx,
        amount=doc["amount"],
        currency=doc["currency"],
        type="refund_failure",
        reporting_category="refund_failure",
        source=doc["id"],
        description="REFUND FAILURE",
    )
    ctx.save_and_emit(refund, "refund.updated", automatic=automatic)
    ctx.emit("refund.failed", doc, automatic=automatic)
    ctx.emit("charge.refund.updated", doc, automatic=automatic)
    charge = ctx.load("charge", doc["charge"])
    charge.doc["amount_refunded"] -= doc["amount"]
    charge.doc["refunded"] = False
    ctx.save(charge)
    return doc


def scheduled_fail(ctx: Ctx, refund_id: str) -> None:
    refund = ctx.get(refund_id)
    if refund is not None and refund.doc["status"] in ("pending", "succeeded"):
        fail(ctx, refund_id)


def retrieve(ctx: Ctx, params: dict[str, Any], refund_id: str) -> Doc:
    return ctx.load("refund", refund_id).doc


def update(ctx: Ctx, params: dict[str, Any], refund_id: str) -> Doc:
    refund = ctx.load("refund", refund_id)
    if "metadata" in params:
        refund.doc["metadata"] = merge_metadata(refund.doc["metadata"], params["metadata"])
    if refund.doc != refund.before:
        ctx.save_and_emit(refund, "refund.updated")
        ctx.emit("charge.refund.updated", refund.doc)
    return refund.doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters = {name: params[name] for name in ("charge", "payment_intent") if params.get(name)}
    return page(ctx, "refund", params, url="/v1/refunds", filters=filters)
