"""Products and prices (per-unit, one-time or recurring), with lookup keys and a product's features list."""

from __future__ import annotations

import re
from typing import Any

from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import InvalidRequest, ParamError, no_such
from payops.stripe_sim.expand import includable
from payops.stripe_sim.ids import new_id
from payops.stripe_sim.listing import ABSENT, page, sublist
from payops.stripe_sim.params import (
    EXPAND,
    LIST,
    LIST_CREATED,
    Arr,
    Bool,
    Currency,
    Enum,
    Hash,
    Int,
    Metadata,
    Str,
    merge_metadata,
)

RECURRING = {
    "interval": Enum("day", "week", "month", "year", required=True),
    "interval_count": Int(min=1),
    "usage_type": Enum("licensed", "metered"),
}
TAX_BEHAVIOR = Enum("exclusive", "inclusive", "unspecified")
_PRODUCT_FIELDS = {
    "active": Bool(),
    "description": Str(nullable=True, max_length=40_000),
    "images": Arr(Str(), max_items=8),
    "marketing_features": Arr(Hash({"name": Str(required=True, max_length=80)}), max_items=15),
    "metadata": Metadata(),
    "shippable": Bool(),
    "statement_descriptor": Str(max_length=22),
    "tax_code": Str(),
    "unit_label": Str(max_length=12, nullable=True),
    "url": Str(nullable=True),
    "expand": EXPAND,
}
PRODUCT_CREATE = {
    **_PRODUCT_FIELDS,
    "name": Str(required=True, max_length=250),
    "id": Str(),
    "default_price_data": Hash(
        {
            "currency": Currency(required=True),
            "unit_amount": Int(min=0),
            "recurring": Hash({"interval": RECURRING["interval"], "interval_count": Int(min=1)}),
            "tax_behavior": TAX_BEHAVIOR,
            "metadata": Metadata(),
        }
    ),
}
PRODUCT_UPDATE = {**_PRODUCT_FIELDS, "name": Str(max_length=250), "default_price": Str()}
PRODUCT_LIST = {**LIST_CREATED, "active": Bool(), "ids": Arr(Str()), "shippable": Bool(), "url": Str()}
FEATURES = dict(LIST)
PRICE_CREATE = {
    "currency": Currency(required=True),
    "product": Str(),
    "product_data": Hash(
        {
            "name": Str(required=True),
            "active": Bool(),
            "id": Str(),
            "metadata": Metadata(),
            "statement_descriptor": Str(max_length=22),
            "tax_code": Str(),
            "unit_label": Str(max_length=12),
        }
    ),
    "unit_amount": Int(min=0),
    "active": Bool(),
    "billing_scheme": Enum("per_unit", "tiered"),
    "lookup_key": Str(max_length=200),
    "metadata": Metadata(),
    "nickname": Str(),
    "recurring": Hash(RECURRING),
    "tax_behavior": TAX_BEHAVIOR,
    "transfer_lookup_key": Bool(),
    "expand": EXPAND,
}
PRICE_UPDATE = {
    "active": Bool(),
    "lookup_key": Str(max_length=200),
    "metadata": Metadata(),
    "nickname": Str(nullable=True),
    "tax_behavior": TAX_BEHAVIOR,
    "transfer_lookup_key": Bool(),
    "expand": EXPAND,
}
PRICE_LIST = {
    **LIST_CREATED,
    "active": Bool(),
    "currency": Currency(),
    "lookup_keys": Arr(Str(), max_items=10),
    "product": Str(),
    "recurring": Hash({"interval": Enum("day", "week", "month", "year"), "usage_type": Enum("licensed", "metered")}),
    "type": Enum("one_time", "recurring"),
}


def _live_product(ctx: Ctx, product_id: str, *, param: str = "id") -> Record:
    product = ctx.load("product", product_id, param=param)
    if product.doc.get("deleted"):
        raise no_such("product", product_id, param=param)
    return product


def _product(ctx: Ctx, params: dict[str, Any]) -> Record:
    product_id = params.get("id") or new_id("prod")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", product_id):
        raise InvalidRequest(f"Invalid id: {product_id!r}", param="id")
    if ctx.get(product_id) is not None:
        raise InvalidRequest("Product already exists.", code="resource_already_exists", param="id")
    now = ctx.now()
    doc: Doc = {
        "id": product_id,
        "object": "product",
        "active": params.get("active", True),
        "attributes": [],
        "created": now,
        "default_price": None,
        "description": params.get("description"),
        "images": params.get("images") or [],
        "livemode": False,
        "marketing_features": params.get("marketing_features") or [],
        "metadata": merge_metadata({}, params.get("metadata")),
        "name": params["name"],
        "package_dimensions": None,
        "shippable": params.get("shippable"),
        "statement_descriptor": params.get("statement_descriptor"),
        "tax_code": params.get("tax_code"),
        "type": "service",
        "unit_label": params.get("unit_label"),
        "updated": now,
        "url": params.get("url"),
    }
    record = ctx.insert(doc)
    ctx.emit("product.created", doc)
    return record


def create_product(ctx: Ctx, params: dict[str, Any]) -> Doc:
    product = _product(ctx, params)
    data = params.get("default_price_data")
    if data:
        price = _price(ctx, {**data, "product": product.id})
        product.doc["default_price"] = price["id"]
        ctx.save(product)
    return product.doc


def update_product(ctx: Ctx, params: dict[str, Any], product_id: str) -> Doc:
    product = _live_product(ctx, product_id)
    doc = product.doc
    for name in (
        "active",
        "description",
        "images",
        "marketing_features",
        "name",
        "shippable",
        "statement_descriptor",
        "tax_code",
        "unit_label",
        "url",
    ):
        if name in params:
            doc[name] = params[name]
    if "default_price" in params:
        price = ctx.load("price", params["default_price"], param="default_price")
        if price.doc["product"] != product_id:
            raise InvalidRequest(
                f"The price {price.id} does not belong to product {product_id}.", param="default_price"
            )
        doc["default_price"] = price.id
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    if doc != product.before:
        doc["updated"] = ctx.now()
        ctx.save_and_emit(product, "product.updated")
    return doc


def delete_product(ctx: Ctx, params: dict[str, Any], product_id: str) -> Doc:
    product = _live_product(ctx, product_id)
    if ctx.conn.execute(
        "SELECT 1 FROM objects WHERE object = 'price' AND json_extract(doc, '$.product') = ?", (product_id,)
    ).fetchone():
        raise InvalidRequest("This product cannot be deleted because it has one or more user-created prices.")
    ctx.emit("product.deleted", product.doc)
    product.doc = {"id": product_id, "object": "product", "deleted": True}
    ctx.save(product)
    return product.doc


def retrieve_product(ctx: Ctx, params: dict[str, Any], product_id: str) -> Doc:
    return _live_product(ctx, product_id).doc


def list_products(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters: dict[str, Any] = {"deleted": ABSENT}
    for name in ("active", "shippable", "url"):
        if name in params:
            filters[name] = params[name]
    if params.get("ids"):
        filters["id"] = params["ids"]
    return page(ctx, "product", params, url="/v1/products", filters=filters)


def list_features(ctx: Ctx, params: dict[str, Any], product_id: str) -> Doc:
    _live_product(ctx, product_id)
    return {**sublist(f"/v1/products/{product_id}/features", []), "has_more": False}


def _price(ctx: Ctx, params: dict[str, Any]) -> Doc:
    if bool(params.get("product")) == bool(params.get("product_data")):
        raise ParamError("You must specify either `product` or `product_data` when creating a price.", param="product")
    if params.get("billing_scheme") == "tiered":
        raise InvalidRequest("Tiered prices are not supported by the PayOps Stripe simulator.", param="billing_scheme")
    if "unit_amount" not in params:
        raise ParamError("Missing required param: unit_amount.", code="parameter_missing", param="unit_amount")
    if params.get("product"):
        product_id = _live_product(ctx, params["product"], param="product").id
    else:
        product_id = _product(ctx, params["product_data"]).id
    lookup_key = params.get("lookup_key")
    if lookup_key:
        _claim_lookup_key(ctx, lookup_key, transfer=params.get("transfer_lookup_key", False))
    recurring = params.get("recurring")
    amount = params["unit_amount"]
    doc: Doc = {
        "id": new_id("price"),
        "object": "price",
        "active": params.get("active", True),
        "billing_scheme": "per_unit",
        "created": ctx.now(),
        "currency": params["currency"],
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": merge_metadata({}, params.get("metadata")),
        "nickname": params.get("nickname"),
        "product": product_id,
        "recurring": {
            "interval": recurring["interval"],
            "interval_count": recurring.get("interval_count", 1),
            "meter": None,
            "trial_period_days": None,
            "usage_type": recurring.get("usage_type", "licensed"),
        }
        if recurring
        else None,
        "tax_behavior": params.get("tax_behavior", "unspecified"),
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if recurring else "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }
    ctx.insert(doc)
    ctx.emit("price.created", doc)
    return doc


def _claim_lookup_key(ctx: Ctx, lookup_key: str, *, transfer: bool) -> None:
    row = ctx.conn.execute(
        "SELECT id FROM objects WHERE object = 'price' AND json_extract(doc, '$.lookup_key') = ?", (lookup_key,)
    ).fetchone()
    if row is None:
        return
    if not transfer:
        raise InvalidRequest(
            f"A price (`{row['id']}`) already uses that lookup key. Pass transfer_lookup_key=true to move it to "
            "this price.",
            param="lookup_key",
        )
    holder = ctx.load("price", row["id"])
    holder.doc["lookup_key"] = None
    ctx.save_and_emit(holder, "price.updated")


def create_price(ctx: Ctx, params: dict[str, Any]) -> Doc:
    return _price(ctx, params)


def retrieve_price(ctx: Ctx, params: dict[str, Any], price_id: str) -> Doc:
    return ctx.load("price", price_id).doc


def update_price(ctx: Ctx, params: dict[str, Any], price_id: str) -> Doc:
    price = ctx.load("price", price_id)
    doc = price.doc
    if params.get("lookup_key") and params["lookup_key"] != doc["lookup_key"]:
        _claim_lookup_key(ctx, params["lookup_key"], transfer=params.get("transfer_lookup_key", False))
    for name in ("active", "lookup_key", "nickname", "tax_behavior"):
        if name in params:
            doc[name] = params[name]
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    if doc != price.before:
        ctx.save_and_emit(price, "price.updated")
    return doc


def list_prices(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters: dict[str, Any] = {}
    for name in ("active", "currency", "product", "type"):
        if name in params:
            filters[name] = params[name]
    if params.get("lookup_keys"):
        filters["lookup_key"] = params["lookup_keys"]
    for name, value in (params.get("recurring") or {}).items():
        filters[f"recurring.{name}"] = value
    return page(ctx, "price", params, url="/v1/prices", filters=filters)


@includable("price", "currency_options")
def _currency_options(ctx: Ctx, doc: Doc) -> Doc:
    return {
        doc["currency"]: {
            "custom_unit_amount": None,
            "tax_behavior": doc["tax_behavior"],
            "unit_amount": doc["unit_amount"],
            "unit_amount_decimal": doc["unit_amount_decimal"],
        }
    }


@includable("price", "tiers")
def _tiers(ctx: Ctx, doc: Doc) -> list[Doc]:
    return []  # per-unit prices have no tiers
