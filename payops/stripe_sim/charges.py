"""Charges: one per payment attempt, with Radar's outcome and the card's details; retrieve, list, update.

`attempt` decides what happens to a payment, in this order: a scripted
decline (scripting.py), Radar (a blocked card, or highest risk under the
default block rule), a failed CVC check, the card's own decline, else an
authorization. It never raises: the caller turns a failed charge into the
card error Stripe answers with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from payops.stripe_sim import balance, cards, scripting
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import DOC_URL, CardError
from payops.stripe_sim.expand import includable
from payops.stripe_sim.ids import new_id, random_token
from payops.stripe_sim.listing import page, sublist
from payops.stripe_sim.money import processing_fee
from payops.stripe_sim.params import EXPAND, LIST_CREATED, SHIPPING, Email, Enum, Hash, Metadata, Str, merge_metadata
from payops.stripe_sim.payment_methods import spec_of

AUTHORIZATION_DAYS = (
    7  # card authorizations expire after 7 days (https://docs.stripe.com/payments/place-a-hold-on-a-payment-method)
)
UPDATE = {
    "description": Str(nullable=True),
    "fraud_details": Hash({"user_report": Enum("fraudulent", "safe", required=True)}),
    "metadata": Metadata(),
    "receipt_email": Email(nullable=True),
    "shipping": Hash(SHIPPING, nullable=True),
    "transfer_group": Str(),
    "expand": EXPAND,
}
LIST_PARAMS = {**LIST_CREATED, "customer": Str(), "payment_intent": Str(), "transfer_group": Str()}


@dataclass
class Attempt:
    charge: Record
    decline: Doc | None  # the error body Stripe answers with (a card_error), None when authorized


def _score(seed: str, low: int, high: int) -> int:
    """A risk score that looks random but is stable for a charge."""
    return low + int(hashlib.sha256(seed.encode()).hexdigest(), 16) % (high - low + 1)


def _decide(ctx: Ctx, method: Record, charge_id: str, *, three_ds_failed_off_session: bool) -> tuple[Doc, Doc | None]:
    """(outcome, decline) for a payment with this PaymentMethod."""
    spec = spec_of(method)
    scripted = scripting.next_decline(ctx.conn, method.id, method.doc["card"]["fingerprint"])
    risk = scripting.next_risk(ctx.conn)
    level = (risk or {}).get("risk_level") or {"blocked": "highest"}.get(spec.risk, spec.risk)
    ranges = {"normal": (5, 45), "elevated": (65, 74), "highest": (80, 99)}
    score = (risk or {}).get("risk_score")
    if score is None:
        score = _score(charge_id, *ranges[level])
    outcome: Doc = {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": level,
        "risk_score": score,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }
    if three_ds_failed_off_session:
        return _issuer_declined(
            outcome, {"decline_code": "authentication_required"}, error_code="authentication_required"
        )
    if scripted:
        return _issuer_declined(outcome, scripted)
    blocked = spec.risk == "blocked" or (level == "highest" and ctx.settings.get("block_highest_risk", True))
    if blocked:
        outcome.update(
            network_status="not_sent_to_network",
            reason="highest_risk_level",
            seller_message="Stripe blocked this payment as too risky.",
            type="blocked",
        )
        return outcome, {"code": "card_declined", "decline_code": "fraudulent", "message": cards.DECLINED}
    if spec.cvc_check == "fail" and method.private.get("cvc_given"):
        return _issuer_declined(outcome, {"decline_code": "incorrect_cvc"})
    if spec.decline:
        return _issuer_declined(outcome, {"decline_code": spec.decline})
    return outcome, None


def _issuer_declined(outcome: Doc, script: Doc, *, error_code: str | None = None) -> tuple[Doc, Doc]:
    code = script["decline_code"]
    advice, network = cards.ADVICE.get(code, (None, None))
    outcome.update(
        advice_code=script.get("advice_code", advice),
        network_advice_code=script.get("network_advice_code"),
        network_decline_code=script.get("network_decline_code", network),
        network_status="declined_by_network",
        reason=code,
        seller_message="The bank did not return any further details with this decline."
        if code == "generic_decline"
        else f"The bank returned the decline code `{code}`.",
        type="issuer_declined",
    )
    error_code = error_code or cards.error_code(code)
    decline: Doc = {"code": error_code, "message": cards.message(code)}
    if code not in cards.ERROR_CODE_FOR:
        decline["decline_code"] = code
    for name in ("advice_code", "network_advice_code", "network_decline_code"):
        if outcome[name]:
            decline[name] = outcome[name]
    return outcome, decline


def card_details(
    method: Record, *, amount: int | None, authorized: bool, capture_before: int | None, three_d_secure: Doc | None
) -> Doc:
    card = method.doc["card"]
    spec = spec_of(method)
    cvc = None
    if method.private.get("cvc_given"):
        cvc = "fail" if spec.cvc_check == "fail" else "pass"
    details: Doc = {
        "amount_authorized": amount if authorized else None,
        "authorization_code": "123456" if authorized else None,
        "brand": card["brand"],
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": cvc},
        "country": card["country"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "extended_authorization": {"status": "disabled"},
        "fingerprint": card["fingerprint"],
        "funding": card["funding"],
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "last4": card["last4"],
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": card["brand"],
        "network_token": {"used": False},
        "network_transaction_id": "".join(ch for ch in random_token(15) if ch.isdigit()) or "1",
        "overcapture": {"maximum_amount_capturable": amount or 0, "status": "unavailable"},
        "regulated_status": "unregulated",
        "three_d_secure": three_d_secure,
        "wallet": None,
    }
    if capture_before is not None:
        details["capture_before"] = capture_before
    return {"card": details, "type": "card"}


def attempt(
    ctx: Ctx,
    *,
    intent: Doc,
    method: Record,
    capture: bool,
    three_d_secure: Doc | None = None,
    authentication_required: bool = False,
) -> Attempt:
    """Make the charge for a PaymentIntent's attempt: succeeded (captured or not) or failed."""
    charge_id = new_id("ch")
    outcome, decline = _decide(ctx, method, charge_id, three_ds_failed_off_session=authentication_required)
    now = ctx.now()
    authorized = decline is None
    suffix = intent.get("statement_descriptor_suffix")
    charge: Doc = {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": method.doc["billing_details"],
        "calculated_statement_descriptor": ("PAYOPS* " + suffix.upper())[:22] if suffix else "PAYOPS LOCAL",
        "captured": False,
        "created": now,
        "currency": intent["currency"],
        "customer": intent.get("customer"),
        "description": intent.get("description"),
        "destination": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None if authorized else decline["code"],  # type: ignore[index]
        "failure_message": None if authorized else decline["message"],  # type: ignore[index]
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent.get("metadata") or {}),
        "on_behalf_of": None,
        "outcome": outcome,
        "paid": authorized,
        "payment_intent": intent["id"],
        "payment_method": method.id,
        "payment_method_details": card_details(
            method,
            amount=intent["amount"],
            authorized=authorized,
            capture_before=now + AUTHORIZATION_DAYS * 86_400 if authorized and not capture else None,
            three_d_secure=three_d_secure,
        ),
        "radar_options": {},
        "receipt_email": intent.get("receipt_email"),
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{random_token(40)}",
        "refunded": False,
        "review": None,
        "shipping": intent.get("shipping"),
        "source": None,
        "source_transfer": None,
        "statement_descriptor": intent.get("statement_descriptor"),
        "statement_descriptor_suffix": suffix,
        "status": "succeeded" if authorized else "failed",
        "transfer_data": None,
        "transfer_group": None,
    }
    record = ctx.insert(charge)
    if not authorized:
        ctx.emit("charge.failed", charge)
        return Attempt(record, decline)
    if capture:
        mark_captured(ctx, record, charge["amount"], method)
    ctx.emit("charge.succeeded", charge)
    return Attempt(record, None)


def mark_captured(ctx: Ctx, charge: Record, amount: int, method: Record | None = None) -> None:
    """Capture `amount` (the rest is released) and record the balance transaction with Stripe's fee."""
    doc = charge.doc
    spec = spec_of(method) if method is not None else None
    fee = processing_fee(amount, doc["currency"])
    doc["captured"] = True
    doc["amount_captured"] = amount
    doc["balance_transaction"] = balance.create_transaction(
        ctx,
        amount=amount,
        currency=doc["currency"],
        type="charge",
        reporting_category="charge",
        source=doc["id"],
        description=doc.get("description"),
        fee=fee,
        immediately_available=bool(spec and spec.bypass_pending),
    )
    ctx.save(charge)


def decline_error(decline: Doc, *, charge_id: str, method: Doc, **objects: Doc) -> CardError:
    """The 402 Stripe answers a decline with; `objects` adds payment_intent= or setup_intent=."""
    extra: dict[str, Any] = {k: v for k, v in decline.items() if k not in ("code", "decline_code", "message")}
    extra.update(objects, charge=charge_id, payment_method=method)
    return CardError(decline["message"], code=decline["code"], decline_code=decline.get("decline_code"), **extra)


def last_error(decline: Doc, *, charge_id: str | None, method: Doc) -> Doc:
    """A decline as PaymentIntent.last_payment_error shows it."""
    error = {
        "charge": charge_id,
        "code": decline["code"],
        "doc_url": DOC_URL.format(decline["code"].replace("_", "-")),
        "message": decline["message"],
        "payment_method": method,
        "type": "card_error",
    }
    for name in ("decline_code", "advice_code", "network_advice_code", "network_decline_code"):
        if decline.get(name):
            error[name] = decline[name]
    if charge_id is None:
        del error["charge"]
    return dict(sorted(error.items()))


def retrieve(ctx: Ctx, params: dict[str, Any], charge_id: str) -> Doc:
    return ctx.load("charge", charge_id).doc


def update(ctx: Ctx, params: dict[str, Any], charge_id: str) -> Doc:
    record = ctx.load("charge", charge_id)
    doc = record.doc
    for name in ("description", "receipt_email", "shipping", "transfer_group"):
        if name in params:
            doc[name] = params[name]
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    if "fraud_details" in params:
        doc["fraud_details"] = {"user_report": params["fraud_details"]["user_report"]}
    if doc != record.before:
        ctx.save_and_emit(record, "charge.updated")
    return doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters = {name: params[name] for name in ("customer", "payment_intent", "transfer_group") if params.get(name)}
    return page(ctx, "charge", params, url="/v1/charges", filters=filters)


@includable("charge", "refunds")
def _refunds(ctx: Ctx, doc: Doc) -> Doc:
    rows = ctx.conn.execute(
        "SELECT id FROM objects WHERE object = 'refund' AND json_extract(doc, '$.charge') = ? ORDER BY seq DESC",
        (doc["id"],),
    ).fetchall()
    return sublist(f"/v1/charges/{doc['id']}/refunds", [d for row in rows if (d := ctx.fetch(row["id"]))])
