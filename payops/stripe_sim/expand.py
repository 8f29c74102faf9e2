"""`expand[]`: replace id fields with the objects they name, along dotted paths, as Stripe does.

A path walks fields of objects (`latest_charge.balance_transaction`), plain
hashes inside them (`invoice_settings.default_payment_method`) and lists
(`data.customer` on a list answer). Only the fields Stripe documents as
expandable are; anything else is Stripe's 400 "This property cannot be
expanded". Some properties appear only when expanded (`charge.refunds`):
those are "includable" and computed on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payops.stripe_sim.context import Ctx, Doc
from payops.stripe_sim.errors import InvalidRequest

MAX_DEPTH = 4

EXPANDABLE: dict[str, frozenset[str]] = {
    "payment_intent": frozenset(
        {
            "customer",
            "payment_method",
            "latest_charge",
            "application",
            "on_behalf_of",
            "review",
            "invoice",
            "source",
            "last_payment_error.payment_method",
        }
    ),
    "charge": frozenset(
        {
            "customer",
            "payment_intent",
            "balance_transaction",
            "application",
            "application_fee",
            "failure_balance_transaction",
            "on_behalf_of",
            "review",
            "source_transfer",
            "transfer",
            "invoice",
        }
    ),
    "refund": frozenset(
        {
            "charge",
            "payment_intent",
            "balance_transaction",
            "failure_balance_transaction",
            "source_transfer_reversal",
            "transfer_reversal",
        }
    ),
    "dispute": frozenset({"charge", "payment_intent"}),
    "customer": frozenset({"default_source", "invoice_settings.default_payment_method", "test_clock"}),
    "payment_method": frozenset({"customer"}),
    "setup_intent": frozenset(
        {
            "customer",
            "payment_method",
            "latest_attempt",
            "mandate",
            "single_use_mandate",
            "application",
            "on_behalf_of",
            "last_setup_error.payment_method",
        }
    ),
    "balance_transaction": frozenset({"source"}),
    "price": frozenset({"product"}),
    "product": frozenset({"default_price"}),
    "radar.early_fraud_warning": frozenset({"charge", "payment_intent"}),
    "event": frozenset(),
    "webhook_endpoint": frozenset(),
}

# Properties present only when expanded: (ctx, the owning object) -> value.
Includer = Callable[[Ctx, Doc], Any]
INCLUDABLE: dict[str, dict[str, Includer]] = {}


def includable(kind: str, name: str) -> Callable[[Includer], Includer]:
    def register(function: Includer) -> Includer:
        INCLUDABLE.setdefault(kind, {})[name] = function
        return function

    return register


def _refuse(path: str) -> InvalidRequest:
    return InvalidRequest(f"This property cannot be expanded ({path}).", param="expand")


def expand(ctx: Ctx, doc: Doc, paths: list[str] | None) -> Doc:
    """Expand `paths` in place (doc is a rendered copy) and return it."""
    for path in paths or []:
        segments = path.split(".")
        if len([s for s in segments if s != "data"]) > MAX_DEPTH:
            raise InvalidRequest(
                f"You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}", param="expand"
            )
        _walk(ctx, doc, owner=doc, prefix="", segments=segments, done=[])
    return doc


def _walk(ctx: Ctx, node: Any, *, owner: Doc, prefix: str, segments: list[str], done: list[str]) -> None:
    if not segments or node is None:
        return
    segment, rest = segments[0], segments[1:]
    here = [*done, segment]
    if isinstance(node, dict) and node.get("object") in ("list", "search_result"):
        if segment != "data" or not rest:
            raise _refuse(".".join(here))
        for item in node["data"]:
            _walk(ctx, item, owner=item, prefix="", segments=rest, done=here)
        return
    if not isinstance(node, dict):
        raise _refuse(".".join(here))
    kind = str(owner.get("object"))
    relative = prefix + segment
    includers = INCLUDABLE.get(kind, {})
    if relative in includers:
        if node.get(segment) is None:
            node[segment] = includers[relative](ctx, owner)
        _continue(ctx, node[segment], rest, here)
        return
    if relative in EXPANDABLE.get(kind, frozenset()):
        value = node.get(segment)
        if isinstance(value, str):
            fetched = ctx.fetch(value)
            if fetched is not None:
                node[segment] = value = fetched
        _continue(ctx, value, rest, here)
        return
    nested = node.get(segment)
    if isinstance(nested, dict) and nested.get("object") is None and rest:
        if any(name.startswith(relative + ".") for name in EXPANDABLE.get(kind, frozenset())):
            _walk(ctx, nested, owner=owner, prefix=relative + ".", segments=rest, done=here)
            return
    raise _refuse(".".join(here))


def _continue(ctx: Ctx, value: Any, rest: list[str], done: list[str]) -> None:
    if not rest or value is None:
        return
    if isinstance(value, str):
        raise _refuse(".".join([*done, rest[0]]))
    _walk(ctx, value, owner=value, prefix="", segments=rest, done=done)
