"""PaymentMethods (cards only): create from a test card, number or token; attach, detach, update, list.

Stripe's test ids (`pm_card_visa`, `pm_card_chargeDeclined`, …) create a fresh
PaymentMethod each time they are used, as in Stripe.
"""

from __future__ import annotations

import re
from typing import Any

from payops.stripe_sim import cards
from payops.stripe_sim.cards import CardSpec
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import CardError, InvalidRequest, ParamError, no_such
from payops.stripe_sim.ids import fingerprint, new_id
from payops.stripe_sim.listing import page
from payops.stripe_sim.params import (
    BILLING_DETAILS,
    EXPAND,
    LIST,
    Enum,
    Hash,
    Int,
    Metadata,
    Str,
    address,
    merge_metadata,
)

CARD = {
    "number": Str(),
    "exp_month": Int(),
    "exp_year": Int(),
    "cvc": Str(),
    "token": Str(),
    "networks": Hash({"preferred": Enum("cartes_bancaires", "mastercard", "visa")}),
}
# type and customer are optional in Stripe only for features not simulated (cloning, Accounts v2).
CREATE = {
    "type": Str(),
    "card": Hash(CARD),
    "billing_details": Hash(BILLING_DETAILS),
    "metadata": Metadata(),
    "allow_redisplay": Enum("always", "limited", "unspecified"),
    "expand": EXPAND,
}
UPDATE = {
    "billing_details": Hash(BILLING_DETAILS),
    "card": Hash({"exp_month": Int(), "exp_year": Int(), "networks": CARD["networks"]}),
    "metadata": Metadata(),
    "allow_redisplay": Enum("always", "limited", "unspecified"),
    "expand": EXPAND,
}
ATTACH = {"customer": Str(), "expand": EXPAND}
DETACH = {"expand": EXPAND}
LIST_PARAMS = {**LIST, "customer": Str(), "type": Str(), "allow_redisplay": Enum("always", "limited", "unspecified")}

DISPLAY_BRAND = {"amex": "american_express", "diners": "diners_club", "unionpay": "union_pay"}
LIVE_CARD = (
    "Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid "
    "test cards, visit: https://stripe.com/docs/testing."
)


def _card_error(code: str, message: str, param: str) -> CardError:
    return CardError(message, code=code, param=param, commit=False)


def billing_details(value: dict[str, Any] | None) -> Doc:
    value = value or {}
    return {
        "address": address(value.get("address") or {}),
        "email": value.get("email"),
        "name": value.get("name"),
        "phone": value.get("phone"),
        "tax_id": None,
    }


def _card_from_params(ctx: Ctx, card: dict[str, Any]) -> tuple[CardSpec, int, int, bool]:
    """(test card, exp_month, exp_year, cvc given) from card[...] parameters; Stripe's card errors otherwise."""
    year_now = ctx.clock.now() // 31_556_952 + 1970
    if card.get("token"):
        if card.get("number"):
            raise ParamError("You cannot pass both card[token] and card[number].", param="card[token]")
        spec = cards.BY_TOKEN.get(card["token"])
        if spec is None:
            raise no_such("token", card["token"], param="card[token]")
        return spec, 12, year_now + 3, True
    for name in ("number", "exp_month", "exp_year"):
        if name not in card:
            raise ParamError(f"Missing required param: card[{name}].", code="parameter_missing", param=f"card[{name}]")
    number = re.sub(r"[\s-]", "", card["number"])
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise _card_error("invalid_number", "Your card number is invalid.", "card[number]")
    if not cards.luhn_ok(number):
        raise _card_error("incorrect_number", cards.message("incorrect_number"), "card[number]")
    month, year = card["exp_month"], card["exp_year"]
    year = year + 2000 if year < 100 else year
    if not 1 <= month <= 12:
        raise _card_error("invalid_expiry_month", "Your card's expiration month is invalid.", "card[exp_month]")
    if not year_now <= year <= year_now + 50:
        raise _card_error("invalid_expiry_year", "Your card's expiration year is invalid.", "card[exp_year]")
    cvc = card.get("cvc")
    if cvc is not None and not re.fullmatch(r"\d{3,4}", cvc):
        raise _card_error("invalid_cvc", "Your card's security code is invalid.", "card[cvc]")
    spec = cards.BY_NUMBER.get(number)
    if spec is None:
        raise CardError(LIVE_CARD, code="card_declined", decline_code="test_mode_live_card", commit=False)
    return spec, month, year, cvc is not None


def build(
    ctx: Ctx, spec: CardSpec, *, exp_month: int, exp_year: int, cvc_given: bool, params: dict[str, Any]
) -> Record:
    """Store a new card PaymentMethod for `spec`."""
    doc: Doc = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": params.get("allow_redisplay") or "unspecified",
        "billing_details": billing_details(params.get("billing_details")),
        "card": {
            "brand": spec.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "unchecked" if cvc_given else None,
            },
            "country": spec.country,
            "display_brand": DISPLAY_BRAND.get(spec.brand, spec.brand),
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": fingerprint(spec.number),
            "funding": spec.funding,
            "generated_from": None,
            "last4": spec.last4,
            "networks": {"available": [spec.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": spec.brand != "amex"},
            "wallet": None,
        },
        "created": ctx.now(),
        "customer": None,
        "livemode": False,
        "metadata": merge_metadata({}, params.get("metadata")),
        "type": "card",
    }
    return ctx.insert(doc, {"card": spec.key, "cvc_given": cvc_given, "set_up": False, "consumed": False})


def spec_of(method: Record) -> CardSpec:
    return cards.BY_KEY[method.private["card"]]


def from_test_id(ctx: Ctx, test_id: str) -> Record:
    spec = cards.BY_PM_ID[test_id]
    year = ctx.clock.now() // 31_556_952 + 1970
    return build(ctx, spec, exp_month=12, exp_year=year + 3, cvc_given=True, params={})


def resolve(ctx: Ctx, value: str, *, param: str) -> Record:
    """A payment_method parameter: a stored PaymentMethod, or a new one from a test id such as pm_card_visa."""
    if value in cards.BY_PM_ID:
        return from_test_id(ctx, value)
    return ctx.load("payment_method", value, param=param)


def ensure_usable(method: Record) -> None:
    if method.private.get("consumed"):
        raise InvalidRequest(
            "This PaymentMethod was previously used without being attached to a Customer or was detached from a "
            "Customer, and may not be used again. You can try attaching it to a Customer first.",
            param="payment_method",
        )


def attached_to(ctx: Ctx, customer_id: str) -> list[Record]:
    rows = ctx.conn.execute(
        "SELECT id FROM objects WHERE object = 'payment_method' AND json_extract(doc, '$.customer') = ?",
        (customer_id,),
    ).fetchall()
    return [record for row in rows if (record := ctx.get(row["id"])) is not None]


def attach(ctx: Ctx, method: Record, customer: Record) -> None:
    """Attach as Stripe does: a card that declines cannot be attached (Stripe checks it with the issuer)."""
    if method.doc["customer"] == customer.id:
        return
    if method.doc["customer"] is not None:
        raise InvalidRequest(
            "The payment method you provided has already been attached to a customer.", param="payment_method"
        )
    ensure_usable(method)
    spec = spec_of(method)
    if spec.decline and not spec.attach_ok:
        raise CardError(
            cards.message(spec.decline),
            code=cards.error_code(spec.decline),
            decline_code=None if spec.decline in cards.ERROR_CODE_FOR else spec.decline,
            commit=False,
        )
    if spec.risk == "blocked":
        raise CardError(cards.DECLINED, code="card_declined", decline_code="fraudulent", commit=False)
    method.doc["customer"] = customer.id
    ctx.save(method)
    ctx.emit("payment_method.attached", method.doc)


def _required(params: dict[str, Any], name: str) -> Any:
    if not params.get(name):
        raise ParamError(f"Missing required param: {name}.", code="parameter_missing", param=name)
    return params[name]


def create(ctx: Ctx, params: dict[str, Any]) -> Doc:
    if _required(params, "type") != "card":
        raise InvalidRequest(
            f"The payment method type {params['type']!r} is not supported by the PayOps Stripe simulator: only "
            "'card' is.",
            param="type",
        )
    if "card" not in params:
        raise ParamError("Missing required param: card.", code="parameter_missing", param="card")
    spec, month, year, cvc_given = _card_from_params(ctx, params["card"])
    return build(ctx, spec, exp_month=month, exp_year=year, cvc_given=cvc_given, params=params).doc


def retrieve(ctx: Ctx, params: dict[str, Any], payment_method_id: str) -> Doc:
    return resolve(ctx, payment_method_id, param="payment_method").doc


def update(ctx: Ctx, params: dict[str, Any], payment_method_id: str) -> Doc:
    method = ctx.load("payment_method", payment_method_id)
    doc = method.doc
    if "billing_details" in params:
        merged = {**doc["billing_details"], **{k: v for k, v in params["billing_details"].items() if k != "address"}}
        if "address" in params["billing_details"]:
            merged["address"] = address(params["billing_details"]["address"] or {})
        doc["billing_details"] = merged
    card = params.get("card") or {}
    for name in ("exp_month", "exp_year"):
        if name in card:
            doc["card"] = {**doc["card"], name: card[name]}
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    if "allow_redisplay" in params:
        doc["allow_redisplay"] = params["allow_redisplay"]
    if doc != method.before:
        ctx.save_and_emit(method, "payment_method.updated")
    return doc


def attach_endpoint(ctx: Ctx, params: dict[str, Any], payment_method_id: str) -> Doc:
    from payops.stripe_sim.customers import load_live

    method = resolve(ctx, payment_method_id, param="payment_method")
    customer = load_live(ctx, _required(params, "customer"), param="customer")
    attach(ctx, method, customer)
    return method.doc


def detach(ctx: Ctx, params: dict[str, Any], payment_method_id: str) -> Doc:
    method = ctx.load("payment_method", payment_method_id)
    customer_id = method.doc["customer"]
    if customer_id is None:
        raise InvalidRequest(f"The payment method {payment_method_id} is not attached to a customer.")
    method.doc["customer"] = None
    method.private["consumed"] = True  # Stripe: a detached PaymentMethod cannot be used again
    ctx.save_and_emit(method, "payment_method.detached")
    customer = ctx.get(customer_id)
    if customer and customer.doc.get("invoice_settings", {}).get("default_payment_method") == payment_method_id:
        customer.doc["invoice_settings"] = {**customer.doc["invoice_settings"], "default_payment_method": None}
        ctx.save_and_emit(customer, "customer.updated")
    return method.doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters: dict[str, Any] = {}
    if params.get("customer"):
        filters["customer"] = params["customer"]
    if params.get("type"):
        filters["type"] = params["type"]
    return page(ctx, "payment_method", params, url="/v1/payment_methods", filters=filters)
