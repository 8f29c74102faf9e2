"""Customers: create, retrieve, update, delete, list, search and their payment methods."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from payops.stripe_sim import payment_methods
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import InvalidRequest, NotFound, no_such
from payops.stripe_sim.expand import includable
from payops.stripe_sim.ids import new_id, random_token
from payops.stripe_sim.listing import ABSENT, page, sublist
from payops.stripe_sim.params import (
    ADDRESS,
    EXPAND,
    LIST,
    LIST_CREATED,
    SHIPPING,
    Arr,
    Email,
    Enum,
    Hash,
    Int,
    Metadata,
    Str,
    address,
    merge_metadata,
)

INVOICE_SETTINGS = {
    "custom_fields": Arr(
        Hash({"name": Str(required=True, max_length=40), "value": Str(required=True, max_length=140)})
    ),
    "default_payment_method": Str(nullable=True),
    "footer": Str(nullable=True),
}
# A customer's shipping has no carrier or tracking number (a payment's has).
SHIPPING_DETAILS = {name: field for name, field in SHIPPING.items() if name in ("address", "name", "phone")}
_FIELDS = {
    "address": Hash(ADDRESS, nullable=True),
    "balance": Int(),
    "description": Str(nullable=True, max_length=350),
    "email": Email(nullable=True, max_length=512),
    "expand": EXPAND,
    "invoice_settings": Hash(INVOICE_SETTINGS),
    "metadata": Metadata(),
    "name": Str(nullable=True, max_length=256),
    "phone": Str(nullable=True, max_length=20),
    "preferred_locales": Arr(Str()),
    "shipping": Hash(SHIPPING_DETAILS, nullable=True),
    "tax_exempt": Enum("exempt", "none", "reverse", nullable=True),
}
CREATE = {**_FIELDS, "payment_method": Str()}
UPDATE = {**_FIELDS, "default_source": Str(nullable=True)}
LIST_PARAMS = {**LIST_CREATED, "email": Str(max_length=512)}
SEARCH = {"query": Str(required=True), "limit": Int(min=1, max=100), "page": Str(), "expand": EXPAND}
PAYMENT_METHODS = {**LIST, "type": Str(), "allow_redisplay": Enum("always", "limited", "unspecified")}


def _shipping(value: dict[str, Any] | None) -> Doc | None:
    if not value:
        return None
    return {
        "address": address(value.get("address")),
        "name": value.get("name"),
        "phone": value.get("phone"),
        "carrier": value.get("carrier"),
        "tracking_number": value.get("tracking_number"),
    }


def load_live(ctx: Ctx, customer_id: Any, *, param: str | None = "id") -> Record:
    """A customer that is not deleted (Stripe answers 404 for a deleted one where a live one is needed)."""
    record = ctx.load("customer", customer_id, param=param)
    if record.doc.get("deleted"):
        raise no_such("customer", str(customer_id), param=param)
    return record


def create(ctx: Ctx, params: dict[str, Any]) -> Doc:
    method = None
    if params.get("payment_method"):
        method = payment_methods.resolve(ctx, params["payment_method"], param="payment_method")
    default = (params.get("invoice_settings") or {}).get("default_payment_method")
    if default and (method is None or default != method.id):
        # A new customer has no payment method yet but the one it is created with.
        raise InvalidRequest(
            f"The customer does not have a payment method with the ID {default}. The payment method must be "
            "attached to the customer.",
            param="invoice_settings[default_payment_method]",
        )
    now = ctx.now()
    doc: Doc = {
        "id": new_id("cus"),
        "object": "customer",
        "address": address(params.get("address")),
        "balance": params.get("balance") or 0,
        "created": now,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "invoice_prefix": random_token(8).upper(),
        "invoice_settings": {
            "custom_fields": (params.get("invoice_settings") or {}).get("custom_fields") or None,
            "default_payment_method": default or None,
            "footer": (params.get("invoice_settings") or {}).get("footer"),
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": merge_metadata({}, params.get("metadata")),
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "phone": params.get("phone"),
        "preferred_locales": params.get("preferred_locales") or [],
        "shipping": _shipping(params.get("shipping")),
        "tax_exempt": params.get("tax_exempt") or "none",
        "test_clock": None,
    }
    record = ctx.insert(doc)
    ctx.emit("customer.created", doc)
    if method is not None:
        payment_methods.attach(ctx, method, record)
    return record.doc


def _set_default(ctx: Ctx, record: Record, payment_method_id: str) -> None:
    param = "invoice_settings[default_payment_method]"
    method = ctx.get(payment_method_id)
    if method is None or method.doc.get("object") != "payment_method":
        raise no_such("PaymentMethod", payment_method_id, param=param)
    if method.doc.get("customer") != record.id:
        raise InvalidRequest(
            f"The customer does not have a payment method with the ID {payment_method_id}. The payment method must "
            "be attached to the customer.",
            param=param,
        )
    record.doc["invoice_settings"] = {**record.doc["invoice_settings"], "default_payment_method": payment_method_id}


def retrieve(ctx: Ctx, params: dict[str, Any], customer_id: str) -> Doc:
    return ctx.load("customer", customer_id).doc


def update(ctx: Ctx, params: dict[str, Any], customer_id: str) -> Doc:
    record = load_live(ctx, customer_id)
    doc = record.doc
    for name in ("description", "email", "name", "phone", "balance"):
        if name in params:
            doc[name] = params[name]
    if "tax_exempt" in params:
        doc["tax_exempt"] = params["tax_exempt"] or "none"
    if "preferred_locales" in params:
        doc["preferred_locales"] = params["preferred_locales"] or []
    if "address" in params:
        doc["address"] = address(params["address"])
    if "shipping" in params:
        doc["shipping"] = _shipping(params["shipping"])
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    if "default_source" in params and params["default_source"] is not None:
        raise no_such("source", params["default_source"], param="default_source")
    settings = params.get("invoice_settings") or {}
    if "default_payment_method" in settings:
        if settings["default_payment_method"] is None:
            doc["invoice_settings"] = {**doc["invoice_settings"], "default_payment_method": None}
        else:
            _set_default(ctx, record, settings["default_payment_method"])
    for name in ("custom_fields", "footer"):
        if name in settings:
            doc["invoice_settings"] = {**doc["invoice_settings"], name: settings[name] or None}
    if record.doc != record.before:
        ctx.save_and_emit(record, "customer.updated")
    return doc


def delete(ctx: Ctx, params: dict[str, Any], customer_id: str) -> Doc:
    record = load_live(ctx, customer_id)
    ctx.emit("customer.deleted", record.doc)
    # Stripe keeps answering for a deleted customer with this stub.
    record.doc = {"id": record.id, "object": "customer", "deleted": True}
    ctx.save(record)
    for method in payment_methods.attached_to(ctx, record.id):
        method.doc["customer"] = None
        method.private["consumed"] = True
        ctx.save(method)
    return record.doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters: dict[str, Any] = {"deleted": ABSENT}
    if "email" in params:
        filters["email"] = params["email"]
    return page(ctx, "customer", params, url="/v1/customers", filters=filters)


_CLAUSE = re.compile(r"^\s*(?:(email|name|phone|description)|metadata\[['\"]([^'\"]+)['\"]\])\s*:\s*(['\"])(.*)\3\s*$")


def search(ctx: Ctx, params: dict[str, Any]) -> Doc:
    """Stripe's search query language, the part we need: field:'value' clauses joined by AND."""
    filters: dict[str, Any] = {"deleted": ABSENT}
    for clause in re.split(r"\s+AND\s+", params["query"].strip()):
        match = _CLAUSE.match(clause)
        if match is None:
            raise InvalidRequest(
                f'We were unable to parse your search query. Try using the format `metadata["key"]:"value"` '
                f'to query for metadata or `key:"value"` to query for other fields. Could not parse: {clause!r}',
                param="query",
            )
        field, meta_key, _, value = match.groups()
        filters[f'metadata."{meta_key}"' if meta_key else field] = value
    result = page(
        ctx,
        "customer",
        {"limit": params.get("limit"), "expand": params.get("expand")},
        url="/v1/customers/search",
        filters=filters,
    )
    return {**result, "object": "search_result", "has_more": False, "next_page": None}


def list_payment_methods(ctx: Ctx, params: dict[str, Any], customer_id: str) -> Doc:
    load_live(ctx, customer_id)
    filters: dict[str, Any] = {"customer": customer_id}
    if params.get("type"):
        filters["type"] = params["type"]
    return page(ctx, "payment_method", params, url=f"/v1/customers/{customer_id}/payment_methods", filters=filters)


def retrieve_payment_method(ctx: Ctx, params: dict[str, Any], customer_id: str, payment_method_id: str) -> Doc:
    load_live(ctx, customer_id)
    method = ctx.load("payment_method", payment_method_id)
    if method.doc.get("customer") != customer_id:
        raise NotFound(f"No such PaymentMethod: '{payment_method_id}'", param="payment_method")
    return method.doc


def _no_items(name: str) -> Callable[[Ctx, Doc], Doc]:
    """A customer's sources, subscriptions and tax ids: always empty lists here."""

    def include(ctx: Ctx, doc: Doc) -> Doc:
        return sublist(f"/v1/customers/{doc['id']}/{name}", [])

    return include


for _name in ("sources", "subscriptions", "tax_ids"):
    includable("customer", _name)(_no_items(_name))
