"""Demo customers: they pay their pay links (some with cards that fail), and now and then someone books.

Only for the demo against the local stand-ins: a real customer pays on the
pay page with Stripe.js. Each "customer" confirms the booking's open
PaymentIntent through the gateway with a Stripe test card; the stand-ins'
control APIs make the bookings and script the cards that should fail first,
which only a stand-in can do.

Besides the ordinary customers of the Checkfront simulator's own bookings,
visitors (VISITS) book through its control API, so every kind of work
reaches the review queue early in a demo and keeps coming: fraud attempts
whose payments are held for review or blocked by Radar (escalated), returning
customers whose card on file meets a processing error at their bank on a
booking above the retry automation limit, a part-paid booking whose card fails too late to hold it
(a cancellation). Every item they cause is answered through the stand-ins
like any other.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings

from dunning.models import RecoveryCase
from fraud.models import Assessment, Stage
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
# Visitors' cards (payops/stripe_sim/cards.py): Radar rates the first elevated (65-74) and
# blocks the second (highest); a US card either way, for a booking billed in Canada.
RISKY_CARD = Behaviour("pays with a card Radar rates elevated risk", 0, "tok_riskLevelElevated")
BLOCKED_CARD = Behaviour("tries a card Radar blocks as highest risk", 0, "tok_riskLevelHighest")
SHORT_CARD = Behaviour("pays with a card short of funds", 0, "tok_mastercard", ("insufficient_funds",) * 6)

# Throwaway-mailbox services on fraud's disposable list, and addresses from one
# documentation range (203.0.113.0/24): the attempts come from the same few
# places, as a ring's do, which fraud's velocity counts see.
THROWAWAY_DOMAINS = ("mailinator.com", "yopmail.com", "guerrillamail.com", "sharklasers.com")
RING_IPS = ("203.0.113.7", "203.0.113.19", "203.0.113.44")
NAMES = ("Alex Turner", "Sam Reed", "Jordan Blake", "Casey Moore", "Riley Quinn", "Morgan Hale", "Taylor Vance")

# Planned payers not seen paying within this many rounds (their booking changed meanwhile) are forgotten.
PLANNED_ROUNDS = 10


@dataclass(frozen=True)
class Visit:
    """Someone who books through the Checkfront simulator's control API during the demo."""

    name: str
    weight: int  # how often it comes back, once every visit has come once
    sku: str
    seats: tuple[int, int]
    starts_in: tuple[timedelta, timedelta]
    returning: bool = False  # a past customer: their card on file is charged at once
    declines: tuple[str, ...] = ()  # returning: that card's next charges fail with these
    pays: Behaviour | None = None  # a newcomer: how they pay their pay link
    throwaway: bool = False  # a newcomer: from a throwaway address and a ring's IP
    deposit: float = 0.0  # a newcomer: the share of the total paid at the desk when booking


MINUTES = timedelta(minutes=1)
HOURS = timedelta(hours=1)
DAYS = timedelta(days=1)
RETURNING = Visit("a past customer books again", 3, "harbourkayaktour", (1, 2), (5 * DAYS, 30 * DAYS), returning=True)
VISITS = (
    # Last-minute, a group, a throwaway address, a card from another country that Radar
    # rates elevated: the fraud model holds the payment for a person.
    Visit(
        "a stranger books a group for a tour in a few hours from a throwaway address, with a card Radar rates elevated",
        2,
        "harbourkayaktour",
        (4, 7),
        (3 * HOURS, 5 * HOURS),
        pays=RISKY_CARD,
        throwaway=True,
    ),
    # Too close to the start to hold the place for another try, and part is paid:
    # the cancellation (and what to do about the deposit) waits for a person.
    Visit(
        "a group pays a deposit at the desk for the cruise in an hour; their card for the rest is short of funds",
        1,
        "whalewatchingcruise",
        (3, 4),
        (HOURS, 90 * MINUTES),
        pays=SHORT_CARD,
        deposit=0.3,
    ),
    # A processing error at the bank is worth retrying within hours (the retry model
    # says so); above the retry automation limit (CAD 250 in the demo) the retry waits
    # for a person.
    Visit(
        "a past customer books a group; their bank has a processing error on the card on file",
        2,
        "whalewatchingcruise",
        (2, 4),
        (10 * DAYS, 30 * DAYS),
        returning=True,
        declines=("processing_error",),
    ),
    # Stripe blocks the charge as fraudulent: recovery escalates it to a person.
    Visit(
        "a stranger books a group for a tour in a few hours from a throwaway address, with a card Radar blocks",
        1,
        "harbourkayaktour",
        (4, 7),
        (3 * HOURS, 5 * HOURS),
        pays=BLOCKED_CARD,
        throwaway=True,
    ),
    RETURNING,
    # Within the automation limit: the retry runs on its own, at the time the planner chose.
    Visit(
        "a past customer books again; their bank has a processing error on the card on file",
        1,
        "harbourkayaktour",
        (1, 2),
        (5 * DAYS, 30 * DAYS),
        returning=True,
        declines=("processing_error",),
    ),
    # Short of funds: retried when the model expects the money, or asked for another card.
    Visit(
        "a past customer books again; their card on file is short of funds",
        1,
        "harbourkayaktour",
        (1, 2),
        (5 * DAYS, 30 * DAYS),
        returning=True,
        declines=("insufficient_funds",),
    ),
)


class NotAStandIn(RuntimeError):
    """Demo customers only pay the local stand-in."""


class NobodyToVisit(LookupError):
    """A returning visitor needs a past customer with a saved card; there is none yet."""


def _control(url: str, body: dict[str, object]) -> dict[str, object]:
    """A call to a stand-in's loopback control API (the demo's only way to script a card or a booking)."""
    request = urllib.request.Request(  # noqa: S310 - a loopback stand-in named by settings
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - as above
        return dict(json.loads(answer.read() or b"{}"))


def _script_declines(payment_method_id: str, codes: tuple[str, ...]) -> None:
    _control(f"{settings.STRIPE_API_BASE}/_sim/payment_methods/{payment_method_id}/declines", {"codes": list(codes)})


def _checkfront_control() -> str:
    return settings.CHECKFRONT_API_BASE.replace("/api/3.0/", "/_sim/")


def _book(
    *, customer: dict[str, str], sku: str, seats: int, start: int, status: str, ip: str = "", deposit: float = 0.0
) -> str:
    """A booking in the Checkfront simulator, which announces it to PayOps by webhook; returns its code.

    With a `deposit` (a share of the total) a payment at the desk follows at once, leaving the booking PART paid.
    """
    control = _checkfront_control()
    spec: dict[str, object] = {
        "customer": customer,
        "items": [{"sku": sku, "qty": seats}],
        "start_date": start,
        "status_id": status,
    }
    if ip:
        spec["source_ip"] = ip
    booking = _control(f"{control}bookings", spec).get("booking")
    if not isinstance(booking, dict):
        raise OSError(f"the Checkfront simulator made no booking: {booking!r}")
    code = str(booking["code"])
    if deposit:
        amount = Decimal(str(booking["total"])) * Decimal(str(deposit))
        _control(f"{control}bookings/{code}/payments", {"amount": f"{amount:.2f}", "payment_type": "cash"})
    return code


def pay_one(collection: PaymentCollection, rng: random.Random, behaviour: Behaviour | None = None) -> str:
    """One customer pays one collection (as `behaviour`, else as chance has it); returns what they did."""
    if not settings.STRIPE_API_BASE:
        raise NotAStandIn("demo customers pay the local Stripe stand-in only (STRIPE_API_BASE is empty)")
    behaviour = behaviour or rng.choices(BEHAVIOURS, weights=[b.weight for b in BEHAVIOURS])[0]
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


def _untried() -> list[PaymentCollection]:
    """Open collections nobody has paid or tried to pay, oldest first.

    A payment that failed keeps its collection open (recovery has it now) and
    one that was authorized is scored at once: both are left out here, so
    they never crowd out the new ones.
    """
    in_recovery = RecoveryCase.objects.values("payment_intent_id")
    scored = Assessment.objects.filter(stage=Stage.PAYMENT).exclude(payment_intent_id="").values("payment_intent_id")
    return list(
        PaymentCollection.objects.filter(status=CollectionStatus.OPEN)
        .exclude(payment_intent_id="")
        .exclude(payment_intent_id__in=in_recovery)
        .exclude(payment_intent_id__in=scored)
        .order_by("created_at")
    )


def pay_waiting(
    *, limit: int, rng: random.Random, planned: dict[str, Behaviour] | None = None
) -> list[tuple[str, str]]:
    """Customers of up to `limit` untried collections pay now, and so does every planned payer whose link is out.

    `planned` maps a booking code to how its customer pays (a visitor's card);
    a code is removed once its customer has paid.
    """
    planned = planned if planned is not None else {}
    done: list[tuple[str, str]] = []
    ordinary = 0
    for collection in _untried():
        behaviour = planned.get(collection.booking_code)
        if behaviour is None and ordinary >= limit:
            continue
        try:
            intent = stripe_gateway().retrieve_payment_intent(collection.payment_intent_id)
            if intent.status != "requires_payment_method" or intent.last_payment_error:
                continue  # paid, or already tried: recovery is dunning's business now
            what = pay_one(collection, rng, behaviour)
        except (StripeGatewayError, OSError) as exc:
            # One customer's trouble (a stand-in restarting) is not the round's: the next round tries again.
            logger.warning("demo customer of %s could not pay: %s", collection.booking_code, exc)
            continue
        if behaviour is None:
            ordinary += 1
        planned.pop(collection.booking_code, None)
        done.append((collection.booking_code, what))
    return done


def book_again(rng: random.Random, visit: Visit = RETURNING) -> str:
    """A past customer books again; the new booking's collection charges their card on file at once.

    Returns what happened; raises NobodyToVisit while no customer has a saved card.
    """
    paid = PaymentCollection.objects.filter(status=CollectionStatus.SUCCEEDED).exclude(stripe_customer_id="")
    gateway = stripe_gateway()
    for collection in paid.order_by("?")[:5]:
        cards = gateway.list_payment_methods(customer_id=collection.stripe_customer_id)
        customer = gateway.retrieve_customer(collection.stripe_customer_id)
        if cards and customer.email:
            break
    else:
        raise NobodyToVisit("no past customer with a saved card yet")
    if visit.declines:
        # Scripted on the card before the booking exists: the charge at once meets it.
        _script_declines(cards[0].id, visit.declines)
    code = _book(
        customer={"name": customer.name or customer.email, "email": customer.email},
        sku=visit.sku,
        seats=rng.randint(*visit.seats),
        start=_start(rng, visit),
        status="HOLD",
    )
    trouble = f": their card on file will fail ({', '.join(visit.declines)})" if visit.declines else ""
    return f"{code}: {customer.email} booked again{trouble}"


def _start(rng: random.Random, visit: Visit) -> int:
    low, high = (span.total_seconds() for span in visit.starts_in)
    return int(time.time() + rng.uniform(low, high))


def newcomer_books(rng: random.Random, visit: Visit) -> str:
    """A new customer books; returns the booking's code (their pay link follows by webhook and collection)."""
    name = rng.choice(NAMES)
    if visit.throwaway:
        # An address that says nothing about its owner, from a ring's IP.
        local = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=3)) + str(rng.randint(10, 99))
        email, ip = f"{local}@{rng.choice(THROWAWAY_DOMAINS)}", rng.choice(RING_IPS)
    else:
        email, ip = f"{name.lower().replace(' ', '.')}@northwind-traders.com", ""
    return _book(
        customer={"name": name, "email": email, "country": "CA"},
        sku=visit.sku,
        seats=rng.randint(*visit.seats),
        start=_start(rng, visit),
        status="PEND",
        ip=ip,
        deposit=visit.deposit,
    )


class DemoCustomers:
    """The demo's customers, one round at a time (`simulate_customers` runs a round every few seconds).

    Each round the customers of up to `per_round` open pay links pay, and
    someone may book (VISITS): first every visit once, in order, so the
    review queue holds each kind of work within the demo's first minutes;
    then, each round, one by chance `visit_chance`, by weight.
    """

    def __init__(self, *, rng: random.Random, per_round: int, visit_chance: float) -> None:
        self.rng = rng
        self.per_round = per_round
        self.visit_chance = visit_chance
        self.opening = list(VISITS) if visit_chance else []
        self.planned: dict[str, Behaviour] = {}
        self._planned_at: dict[str, int] = {}
        self.rounds = 0
        self.errors = 0

    def round(self) -> list[str]:
        """One round; returns a line for each thing that happened. A visit that fails is counted, not fatal."""
        self.rounds += 1
        paid = pay_waiting(limit=self.per_round, rng=self.rng, planned=self.planned)
        said = [f"{code}: {what}" for code, what in paid]
        self._forget_stale()
        for visit in self._candidates():
            try:
                said.append(self.visit(visit))
            except NobodyToVisit:
                continue  # a returning visitor waits for a past customer; the next in line comes instead
            except (OSError, StripeGatewayError) as exc:
                self.errors += 1
                logger.warning("visit %r failed: %s", visit.name, exc)
            else:
                if visit in self.opening:
                    self.opening.remove(visit)
            break
        return said

    def visit(self, visit: Visit) -> str:
        """Someone books as `visit` says; returns what happened."""
        if visit.returning:
            return book_again(self.rng, visit)
        code = newcomer_books(self.rng, visit)
        if visit.pays is not None:
            self.planned[code] = visit.pays
            self._planned_at[code] = self.rounds
        return f"{code}: {visit.name}"

    def _candidates(self) -> list[Visit]:
        """Who may book this round, first choice first: the opening in order, then one by chance."""
        if self.opening:
            return list(self.opening)
        if self.visit_chance and self.rng.random() < self.visit_chance:
            return self.rng.choices(VISITS, weights=[v.weight for v in VISITS])
        return []

    def _forget_stale(self) -> None:
        for code, at in list(self._planned_at.items()):
            if code not in self.planned or self.rounds - at > PLANNED_ROUNDS:
                self.planned.pop(code, None)
                del self._planned_at[code]
