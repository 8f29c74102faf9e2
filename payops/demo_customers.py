"""Demo customers: they open their pay links and pay, some with cards that fail, so recovery has work to show.

Only for the demo against the local Stripe stand-in: a real customer pays on
the pay page with Stripe.js. Each "customer" confirms the booking's open
PaymentIntent through the gateway with a Stripe test payment method; the
stand-in's control API scripts the cards that should fail first and recover
on a retry, which only a stand-in can do.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.request
from dataclasses import dataclass

from django.conf import settings

from payments.models import CollectionStatus, PaymentCollection
from payops.stripe_errors import CardDeclined, StripeGatewayError
from payops.stripe_gateway import stripe_gateway

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Behaviour:
    name: str
    weight: int
    token: str  # the Stripe test token the customer's card is made from
    declines: tuple[str, ...] = ()  # scripted on the new card: its next charges fail with these


BEHAVIOURS = (
    Behaviour("pays", 70, "tok_visa"),
    Behaviour("short of funds, then recovers", 12, "tok_visa", ("insufficient_funds",)),
    Behaviour("short of funds for a while", 5, "tok_mastercard", ("insufficient_funds",) * 6),
    Behaviour("expired card", 5, "tok_chargeDeclinedExpiredCard"),
    Behaviour("lost card", 3, "tok_visa_chargeDeclinedLostCard"),
    Behaviour("bank says do not honor", 5, "tok_visa", ("do_not_honor",)),
)


class NotAStandIn(RuntimeError):
    """Demo customers only pay the local stand-in."""


def _control(url: str, body: dict[str, object]) -> dict[str, object]:
    """A call to a stand-in's loopback control API (the demo's only way to script a card or a booking)."""
    request = urllib.request.Request(  # noqa: S310 - a loopback stand-in named by settings
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - as above
        return dict(json.loads(answer.read() or b"{}"))


def _script_declines(payment_method_id: str, codes: tuple[str, ...]) -> None:
    _control(f"{settings.STRIPE_API_BASE}/_sim/payment_methods/{payment_method_id}/declines", {"codes": list(codes)})


def pay_one(collection: PaymentCollection, rng: random.Random) -> str:
    """One customer pays one collection; returns what they did."""
    if not settings.STRIPE_API_BASE:
        raise NotAStandIn("demo customers pay the local Stripe stand-in only (STRIPE_API_BASE is empty)")
    behaviour = rng.choices(BEHAVIOURS, weights=[b.weight for b in BEHAVIOURS])[0]
    gateway = stripe_gateway()
    method = gateway.client.v1.payment_methods.create({"type": "card", "card": {"token": behaviour.token}})
    if behaviour.declines:
        _script_declines(method.id, behaviour.declines)
    try:
        gateway.confirm_payment_intent(
            collection.payment_intent_id,
            idempotency_key=f"demo-customer-{collection.pk}-{method.id}",
            payment_method_id=method.id,
        )
    except CardDeclined as exc:
        return f"{behaviour.name}: declined ({exc.reason})"
    return behaviour.name


def pay_waiting(*, limit: int, rng: random.Random) -> list[tuple[str, str]]:
    """Customers of up to `limit` open collections nobody has tried to pay yet pay now."""
    done: list[tuple[str, str]] = []
    waiting = PaymentCollection.objects.filter(status=CollectionStatus.OPEN).exclude(payment_intent_id="")
    for collection in waiting.order_by("created_at")[: limit * 3]:
        if len(done) >= limit:
            break
        try:
            intent = stripe_gateway().retrieve_payment_intent(collection.payment_intent_id)
        except StripeGatewayError as exc:
            logger.warning("demo customer skipped %s: %s", collection.booking_code, exc)
            continue
        if intent.status != "requires_payment_method" or intent.last_payment_error:
            continue  # paid, or already tried: recovery is dunning's business now
        done.append((collection.booking_code, pay_one(collection, rng)))
    return done


def book_again(rng: random.Random) -> str:
    """A returning customer books again; sometimes their saved card will be short of funds at first.

    The new booking's collection charges the card on file at once, so a
    scripted decline there is what recovery retries.
    """
    paid = PaymentCollection.objects.filter(status=CollectionStatus.SUCCEEDED).exclude(stripe_customer_id="")
    collection = paid.order_by("?").first()
    if collection is None:
        return ""
    gateway = stripe_gateway()
    cards = gateway.list_payment_methods(customer_id=collection.stripe_customer_id)
    customer = gateway.retrieve_customer(collection.stripe_customer_id)
    if not cards or not customer.email:
        return ""
    short = rng.random() < 0.5
    if short:
        _script_declines(cards[0].id, ("insufficient_funds",))
    start = int(time.time()) + rng.randint(5, 30) * 86_400
    control = settings.CHECKFRONT_API_BASE.replace("/api/3.0/", "/_sim/")
    answer = _control(
        f"{control}bookings",
        {
            "customer": {"name": customer.name or customer.email, "email": customer.email},
            "items": [{"sku": "harbourkayaktour", "qty": rng.randint(1, 4)}],
            "start_date": start,
            "status_id": "HOLD",
        },
    )
    booking = answer.get("booking") or {}
    code = booking.get("code", "?") if isinstance(booking, dict) else "?"
    return f"{customer.email} booked again ({code}){': their card on file will be short of funds' if short else ''}"
