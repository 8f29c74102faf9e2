"""Disputes and early fraud warnings: raised by Stripe's dispute test cards, answered with evidence or closed.

A dispute test card's charge is disputed as soon as it is captured (Stripe
does it moments later; here it happens in the same request, after the
payment's own events). A chargeback withdraws the amount plus the dispute fee
at once; an inquiry withdraws nothing until it escalates. Test mode's evidence
rule holds: submitting `uncategorized_text` = winning_evidence wins,
losing_evidence loses; anything else stays under review until resolved
through the control API.
"""

from __future__ import annotations

from typing import Any

from payops.stripe_sim import balance
from payops.stripe_sim.cards import CardSpec
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import InvalidRequest
from payops.stripe_sim.ids import new_id
from payops.stripe_sim.listing import page
from payops.stripe_sim.money import dispute_fee
from payops.stripe_sim.params import EXPAND, LIST_CREATED, Bool, Hash, Metadata, Str, merge_metadata

DAY = 86_400
EVIDENCE_DAYS = 7  # assumed: Stripe's due_by varies by network; a week here
TEXT_EVIDENCE = (
    "access_activity_log billing_address cancellation_policy_disclosure cancellation_rebuttal customer_email_address "
    "customer_name customer_purchase_ip duplicate_charge_explanation duplicate_charge_id product_description "
    "refund_policy_disclosure refund_refusal_explanation service_date shipping_address shipping_carrier "
    "shipping_date shipping_tracking_number uncategorized_text"
).split()
FILE_EVIDENCE = (
    "cancellation_policy customer_communication customer_signature duplicate_charge_documentation receipt "
    "refund_policy service_documentation shipping_documentation uncategorized_file"
).split()
UPDATE = {
    "evidence": Hash(
        {
            **{name: Str(max_length=20_000, nullable=True) for name in TEXT_EVIDENCE},
            **{name: Str(nullable=True) for name in FILE_EVIDENCE},
        }
    ),
    "metadata": Metadata(),
    "submit": Bool(),
    "expand": EXPAND,
}
CLOSE = {"expand": EXPAND}
LIST_PARAMS = {**LIST_CREATED, "charge": Str(), "payment_intent": Str()}
OPEN = ("needs_response", "warning_needs_response")
REASON_CODES = {"fraudulent": "10.4", "product_not_received": "13.1", "general": None}


def after_capture(ctx: Ctx, charge: Record, spec: CardSpec) -> None:
    """Stripe's dispute and early-fraud-warning test cards act once their charge is captured."""
    if spec.dispute:
        _open_dispute(ctx, charge, spec.dispute)
    if spec.early_fraud_warning:
        warning = {
            "id": new_id("issfr"),
            "object": "radar.early_fraud_warning",
            "actionable": True,
            "charge": charge.id,
            "created": ctx.now(),
            "fraud_type": "made_with_stolen_card",
            "livemode": False,
            "payment_intent": charge.doc["payment_intent"],
        }
        ctx.insert(warning)
        ctx.emit("radar.early_fraud_warning.created", warning, automatic=True)


def _open_dispute(ctx: Ctx, charge: Record, kind: str) -> None:
    now = ctx.now()
    inquiry = kind == "inquiry"
    reason = "general" if inquiry else kind
    amount = charge.doc["amount_captured"]
    dispute_id = new_id("dp")
    doc: Doc = {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge.id,
        "created": now,
        "currency": charge.doc["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {name: None for name in sorted(TEXT_EVIDENCE + FILE_EVIDENCE)} | {"enhanced_evidence": {}},
        "evidence_details": {
            "due_by": now + EVIDENCE_DAYS * DAY,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": inquiry,
        "livemode": False,
        "metadata": {},
        "network_reason_code": REASON_CODES[reason],
        "payment_intent": charge.doc["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": charge.doc["payment_method_details"]["card"]["brand"],
                "case_type": "inquiry" if inquiry else "chargeback",
                "network_reason_code": REASON_CODES[reason],
            },
            "type": "card",
        },
        "reason": reason,
        "status": "warning_needs_response" if inquiry else "needs_response",
    }
    record = ctx.insert(doc)
    charge.doc["disputed"] = True
    ctx.save(charge)
    ctx.emit("charge.dispute.created", doc, automatic=True)
    if not inquiry:
        _move_funds(ctx, record, withdraw=True)
    ctx.schedule(doc["evidence_details"]["due_by"], "dispute_due", dispute_id)


def _move_funds(ctx: Ctx, dispute: Record, *, withdraw: bool) -> None:
    doc = dispute.doc
    fee = dispute_fee(doc["currency"])
    transaction_id = balance.create_transaction(
        ctx,
        amount=-doc["amount"] if withdraw else doc["amount"],
        currency=doc["currency"],
        type="adjustment",
        reporting_category="dispute" if withdraw else "dispute_reversal",
        source=doc["id"],
        description=f"Chargeback {'withdrawal' if withdraw else 'reversal'} for {doc['charge']}",
        fee=fee if withdraw else -fee,
        fee_description="Dispute fee",
        immediately_available=True,
    )
    transaction = ctx.load("balance_transaction", transaction_id)
    doc["balance_transactions"] = [*doc["balance_transactions"], transaction.doc]
    ctx.save(dispute)
    ctx.emit("charge.dispute.funds_withdrawn" if withdraw else "charge.dispute.funds_reinstated", doc, automatic=True)


def _close(ctx: Ctx, dispute: Record, status: str, *, automatic: bool) -> None:
    doc = dispute.doc
    doc["status"] = status
    ctx.save(dispute)
    if status == "won" and any(t["amount"] < 0 for t in doc["balance_transactions"]):
        _move_funds(ctx, dispute, withdraw=False)
    ctx.emit("charge.dispute.closed", doc, automatic=automatic)


def resolve(ctx: Ctx, dispute: Record, outcome: str, *, automatic: bool = True) -> None:
    """The bank's decision: won or lost (an inquiry just closes)."""
    if outcome not in ("won", "lost"):
        raise InvalidRequest("outcome must be won or lost", param="outcome")
    if dispute.doc["status"] in ("won", "lost", "warning_closed"):
        raise InvalidRequest(f"Dispute {dispute.id} is already closed ({dispute.doc['status']}).")
    inquiry = dispute.doc["status"].startswith("warning_")
    _close(ctx, dispute, "warning_closed" if inquiry else outcome, automatic=automatic)


def update(ctx: Ctx, params: dict[str, Any], dispute_id: str) -> Doc:
    dispute = ctx.load("dispute", dispute_id)
    doc = dispute.doc
    if "evidence" in params or params.get("submit"):
        if doc["status"] not in OPEN:
            raise InvalidRequest(
                f"This dispute is {doc['status']}: evidence can no longer be changed or submitted.",
                param="evidence" if "evidence" in params else "submit",
            )
    evidence = params.get("evidence") or {}
    for name in FILE_EVIDENCE:
        value = evidence.get(name)
        if value and not value.startswith("file_"):
            raise InvalidRequest(f"No such file upload: '{value}'", param=f"evidence[{name}]")
    if evidence:
        doc["evidence"] = {**doc["evidence"], **evidence}
        doc["evidence_details"] = {**doc["evidence_details"], "has_evidence": True}
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    if params.get("submit"):
        doc["status"] = "warning_under_review" if doc["status"] == "warning_needs_response" else "under_review"
        details = doc["evidence_details"]
        doc["evidence_details"] = {**details, "submission_count": details["submission_count"] + 1}
    if doc != dispute.before:
        ctx.save_and_emit(dispute, "charge.dispute.updated")
    if params.get("submit"):
        # Stripe's test-mode rule: the evidence text decides the outcome at once.
        text = doc["evidence"].get("uncategorized_text")
        if text in ("winning_evidence", "losing_evidence"):
            resolve(ctx, dispute, "won" if text == "winning_evidence" else "lost")
    return doc


def close(ctx: Ctx, params: dict[str, Any], dispute_id: str) -> Doc:
    dispute = ctx.load("dispute", dispute_id)
    if dispute.doc["status"] not in OPEN:
        raise InvalidRequest(f"This dispute is {dispute.doc['status']} and can no longer be closed.")
    inquiry = dispute.doc["status"] == "warning_needs_response"
    _close(ctx, dispute, "warning_closed" if inquiry else "lost", automatic=False)
    return dispute.doc


def past_due(ctx: Ctx, dispute_id: str) -> None:
    """Scheduled at due_by: unanswered, a chargeback is lost and an inquiry closes."""
    dispute = ctx.get(dispute_id)
    if dispute is None or dispute.doc["status"] not in OPEN:
        return
    dispute.doc["evidence_details"] = {**dispute.doc["evidence_details"], "past_due": True}
    inquiry = dispute.doc["status"] == "warning_needs_response"
    _close(ctx, dispute, "warning_closed" if inquiry else "lost", automatic=True)


def retrieve(ctx: Ctx, params: dict[str, Any], dispute_id: str) -> Doc:
    return ctx.load("dispute", dispute_id).doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters = {name: params[name] for name in ("charge", "payment_intent") if params.get(name)}
    return page(ctx, "dispute", params, url="/v1/disputes", filters=filters)


def retrieve_warning(ctx: Ctx, params: dict[str, Any], warning_id: str) -> Doc:
    return ctx.load("radar.early_fraud_warning", warning_id).doc


def list_warnings(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters = {name: params[name] for name in ("charge", "payment_intent") if params.get(name)}
    return page(ctx, "radar.early_fraud_warning", params, url="/v1/radar/early_fraud_warnings", filters=filters)
