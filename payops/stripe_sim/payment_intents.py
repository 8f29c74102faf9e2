"""PaymentIntents API: create, retrieve, update, confirm, capture, cancel, list (the state machine is payments.py)."""

from __future__ import annotations

import re
from typing import Any

from payops.stripe_sim import payment_methods, payments
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.customers import load_live
from payops.stripe_sim.errors import InvalidRequest
from payops.stripe_sim.ids import client_secret, new_id
from payops.stripe_sim.listing import page
from payops.stripe_sim.money import MAXIMUM_AMOUNT, MINIMUM_CHARGE, display
from payops.stripe_sim.params import (
    BILLING_DETAILS,
    EXPAND,
    LIST_CREATED,
    SHIPPING,
    Arr,
    Bool,
    Currency,
    Email,
    Enum,
    Field,
    Hash,
    Int,
    Metadata,
    Str,
    address,
    exclusive,
    merge_metadata,
)


class OffSession(Field):
    """off_session: true/false, or one_off / recurring."""

    def convert(self, value: Any, path: str) -> Any:
        if value in ("one_off", "recurring"):
            return value
        return Bool().convert(value, path)


CARD_OPTIONS = Hash(
    {
        "capture_method": Enum("manual", nullable=True),
        "request_three_d_secure": Enum("any", "automatic", "challenge"),
        "setup_future_usage": Enum("none", "off_session", "on_session", nullable=True),
        "statement_descriptor_suffix_kana": Str(nullable=True),
    }
)
PAYMENT_METHOD_DATA = Hash(
    {
        "type": Str(required=True),
        "billing_details": Hash(BILLING_DETAILS),
        "metadata": Metadata(),
        "allow_redisplay": Enum("always", "limited", "unspecified"),
    }
)
_COMMON = {
    "description": Str(max_length=1000, nullable=True),
    "expand": EXPAND,
    "metadata": Metadata(),
    "payment_method": Str(),
    "payment_method_data": PAYMENT_METHOD_DATA,
    "payment_method_options": Hash({"card": CARD_OPTIONS}),
    "receipt_email": Email(nullable=True),
    "setup_future_usage": Enum("off_session", "on_session", nullable=True),
    "shipping": Hash(SHIPPING, nullable=True),
}
CREATE = {
    **_COMMON,
    "amount": Int(required=True),
    "currency": Currency(required=True),
    "automatic_payment_methods": Hash({"enabled": Bool(required=True), "allow_redirects": Enum("always", "never")}),
    "capture_method": Enum("automatic", "automatic_async", "manual"),
    "confirm": Bool(),
    "confirmation_method": Enum("automatic", "manual"),
    "customer": Str(),
    "error_on_requires_action": Bool(),
    "off_session": OffSession(),
    "payment_method_types": Arr(Str()),
    "radar_options": Hash({"session": Str()}),
    "return_url": Str(),
    "statement_descriptor": Str(max_length=22),
    "statement_descriptor_suffix": Str(max_length=22),
    "transfer_group": Str(),
    "use_stripe_sdk": Bool(),
}
UPDATE = {
    **_COMMON,
    "amount": Int(min=1),
    "currency": Currency(),
    "capture_method": Enum("automatic", "automatic_async", "manual"),
    "customer": Str(),
    "payment_method_types": Arr(Str()),
    "statement_descriptor": Str(max_length=22),
    "statement_descriptor_suffix": Str(max_length=22),
    "transfer_group": Str(),
}
CONFIRM = {
    **{name: field for name, field in _COMMON.items() if name not in ("description", "metadata")},
    "capture_method": Enum("automatic", "automatic_async", "manual"),
    "error_on_requires_action": Bool(),
    "off_session": OffSession(),
    "radar_options": Hash({"session": Str()}),
    "return_url": Str(),
    "use_stripe_sdk": Bool(),
}
CAPTURE = {
    "amount_to_capture": Int(min=1),
    "application_fee_amount": Int(),
    "expand": EXPAND,
    "final_capture": Bool(),
    "metadata": Metadata(),
    "statement_descriptor": Str(max_length=22),
    "statement_descriptor_suffix": Str(max_length=22),
}
CANCEL = {
    "cancellation_reason": Enum("abandoned", "duplicate", "fraudulent", "requested_by_customer"),
    "expand": EXPAND,
}
LIST_PARAMS = {**LIST_CREATED, "customer": Str()}
# Fields that can change only before the payment is attempted.
_BEFORE_PAYMENT = (
    "amount",
    "currency",
    "capture_method",
    "customer",
    "payment_method",
    "payment_method_types",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
)
_EDITABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
INVALID_DESCRIPTOR = re.compile(r"[<>\\'\"*]")


def check_amount(amount: int, currency: str) -> None:
    minimum = MINIMUM_CHARGE.get(currency)
    if minimum is not None and amount < minimum:
        raise InvalidRequest(
            f"Amount must be at least {display(minimum, currency)} {currency}", code="amount_too_small", param="amount"
        )
    if amount > MAXIMUM_AMOUNT:
        raise InvalidRequest(
            f"Amount must be no more than {display(MAXIMUM_AMOUNT, currency)}", code="amount_too_large", param="amount"
        )
    if amount < 1:
        raise InvalidRequest("This value must be greater than or equal to 1.", param="amount")


def _check_descriptors(params: dict[str, Any]) -> None:
    if params.get("statement_descriptor"):
        # Card payments show the account's prefix plus a suffix; Stripe refuses a full descriptor for them.
        raise InvalidRequest(
            "The `statement_descriptor` parameter is not supported for the `card` payment method type. Please use "
            "`statement_descriptor_suffix` instead.",
            param="statement_descriptor",
        )
    suffix = params.get("statement_descriptor_suffix")
    if suffix is not None and (INVALID_DESCRIPTOR.search(suffix) or not re.search(r"[A-Za-z]", suffix)):
        raise InvalidRequest(
            "Invalid statement_descriptor_suffix: it must contain at least one letter and none of < > \\ ' \" *",
            param="statement_descriptor_suffix",
        )


def _check_types(types: list[str] | None) -> list[str]:
    for index, kind in enumerate(types or []):
        if kind != "card":
            raise InvalidRequest(
                f'The payment method type "{kind}" is invalid. Please ensure the provided type is activated in your '
                "dashboard (https://dashboard.stripe.com/account/payments/settings) and your account is enabled for "
                "any preview features that you are trying to use.",
                param=f"payment_method_types[{index}]",
            )
    return types or ["card"]


def _method_from_params(ctx: Ctx, params: dict[str, Any]) -> Record | None:
    exclusive(params, "payment_method", "payment_method_data")
    if params.get("payment_method"):
        return payment_methods.resolve(ctx, params["payment_method"], param="payment_method")
    if params.get("payment_method_data"):
        # Card details reach Stripe only through Stripe.js or a PaymentMethod: there is no card hash here.
        raise InvalidRequest(
            "payment_method_data cannot carry card details: create a PaymentMethod (or use a test id such as "
            "pm_card_visa) and pass it as payment_method.",
            param="payment_method_data",
        )
    return None


def create(ctx: Ctx, params: dict[str, Any]) -> Doc:
    exclusive(params, "automatic_payment_methods", "payment_method_types")
    check_amount(params["amount"], params["currency"])
    _check_descriptors(params)
    types = _check_types(params.get("payment_method_types"))
    confirm = params.get("confirm", False)
    for name in ("off_session", "error_on_requires_action", "return_url"):
        if name in params and not confirm:
            raise InvalidRequest(f"You can only pass `{name}` when `confirm` is true.", param=name)
    customer = load_live(ctx, params["customer"], param="customer").id if params.get("customer") else None
    method = _method_from_params(ctx, params)
    automatic = params.get("automatic_payment_methods")
    if automatic is None and "payment_method_types" not in params:
        # Since 2023-08-16 a PaymentIntent without types takes the Dashboard's payment methods.
        automatic = {"enabled": True, "allow_redirects": "always"}
    elif automatic is not None:
        automatic = {"allow_redirects": automatic.get("allow_redirects", "always"), "enabled": automatic["enabled"]}
    intent_id = new_id("pi")
    card_options = (params.get("payment_method_options") or {}).get("card") or {}
    doc: Doc = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": params["amount"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": automatic,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": card_options.get("capture_method") or params.get("capture_method") or "automatic_async",
        "client_secret": client_secret(intent_id),
        "confirmation_method": params.get("confirmation_method") or "automatic",
        "created": ctx.now(),
        "currency": params["currency"],
        "customer": customer,
        "description": params.get("description"),
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": merge_metadata({}, params.get("metadata")),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": method.id if method else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": card_options.get("request_three_d_secure") or "automatic",
            }
        },
        "payment_method_types": types,
        "processing": None,
        "receipt_email": params.get("receipt_email"),
        "review": None,
        "setup_future_usage": card_options.get("setup_future_usage") or params.get("setup_future_usage"),
        "shipping": _shipping(params.get("shipping")),
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
        "status": "requires_confirmation" if method else "requires_payment_method",
        "transfer_data": None,
        "transfer_group": params.get("transfer_group"),
    }
    intent = ctx.insert(doc)
    ctx.emit("payment_intent.created", doc)
    if confirm:
        payments.confirm(
            ctx,
            intent,
            method=method,
            off_session=bool(params.get("off_session")),
            return_url=params.get("return_url"),
            error_on_requires_action=params.get("error_on_requires_action", False),
        )
    return intent.doc


def _shipping(value: dict[str, Any] | None) -> Doc | None:
    if not value:
        return None
    return {
        "address": address(value.get("address")),
        "carrier": value.get("carrier"),
        "name": value.get("name"),
        "phone": value.get("phone"),
        "tracking_number": value.get("tracking_number"),
    }


def retrieve(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    return ctx.load("payment_intent", intent_id).doc


def update(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    intent = ctx.load("payment_intent", intent_id)
    doc = intent.doc
    for name in _BEFORE_PAYMENT:
        if name in params and doc["status"] not in _EDITABLE:
            raise InvalidRequest(
                f"This PaymentIntent's {name} could not be updated because it has a status of {doc['status']}. You "
                f"may only update the {name} of a PaymentIntent with one of the following statuses: "
                f"{', '.join(_EDITABLE)}.",
                code="payment_intent_unexpected_state",
                param=name,
            )
    if "amount" in params or "currency" in params:
        check_amount(params.get("amount") or doc["amount"], params.get("currency") or doc["currency"])
    _check_descriptors(params)
    if "payment_method_types" in params:
        exclusive(
            {"payment_method_types": True, "automatic_payment_methods": doc["automatic_payment_methods"]},
            "automatic_payment_methods",
            "payment_method_types",
        )
        doc["payment_method_types"] = _check_types(params["payment_method_types"])
    if params.get("customer"):
        doc["customer"] = load_live(ctx, params["customer"], param="customer").id
    method = _method_from_params(ctx, params)
    if method is not None:
        doc["payment_method"] = method.id
        if doc["status"] == "requires_payment_method":
            doc["status"] = "requires_confirmation"
    for name in (
        "amount",
        "currency",
        "capture_method",
        "description",
        "receipt_email",
        "setup_future_usage",
        "statement_descriptor_suffix",
        "transfer_group",
    ):
        if name in params:
            doc[name] = params[name]
    if "shipping" in params:
        doc["shipping"] = _shipping(params["shipping"])
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    ctx.save(intent)  # Stripe has no payment_intent.updated event
    return doc


def confirm(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    intent = ctx.load("payment_intent", intent_id)
    method = _method_from_params(ctx, params)
    doc = intent.doc
    for name in ("receipt_email", "setup_future_usage", "capture_method"):
        if name in params:
            doc[name] = params[name]
    if "shipping" in params:
        doc["shipping"] = _shipping(params["shipping"])
    payments.confirm(
        ctx,
        intent,
        method=method,
        off_session=bool(params.get("off_session")),
        return_url=params.get("return_url"),
        error_on_requires_action=params.get("error_on_requires_action", False),
    )
    return intent.doc


def capture(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    intent = ctx.load("payment_intent", intent_id)
    _check_descriptors(params)
    if "metadata" in params:
        intent.doc["metadata"] = merge_metadata(intent.doc["metadata"], params["metadata"])
    if params.get("statement_descriptor_suffix"):
        intent.doc["statement_descriptor_suffix"] = params["statement_descriptor_suffix"]
    payments.capture(ctx, intent, amount=params.get("amount_to_capture"))
    return intent.doc


def cancel(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    intent = ctx.load("payment_intent", intent_id)
    payments.cancel(ctx, intent, reason=params.get("cancellation_reason"))
    return intent.doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters = {"customer": params["customer"]} if params.get("customer") else {}
    return page(ctx, "payment_intent", params, url="/v1/payment_intents", filters=filters)
