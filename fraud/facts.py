"""Gathering a booking's facts from the mirror: its history, velocity, geolocation and Stripe charge.

Read-only and local: the booking mirror, fraud's PaymentSignal rows and the
GeoIP file. Everything a feature needs is looked up here, so features.py
stays pure and the benchmark can time the two apart.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Count, Q, Sum

from bookings.models import Booking, BookingItem
from dunning.models import DeclineClass, RetryAttempt
from fraud.email_domains import email_domain, is_disposable, is_freemail
from fraud.features import VELOCITY_KEYS, Facts
from fraud.geoip import locate
from fraud.models import PaymentSignal, SignalKind
from payops.stripe_payloads import object_id

HISTORY_DAYS = 180
MIN_HISTORY = 5
HISTORY_SAMPLE = 500  # the most recent bookings the "usual" amount and party size are taken from
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


@dataclass(frozen=True)
class PaymentFacts:
    """What the charge says, once there is one (from the mirror; never a card number)."""

    payment_intent_id: str = ""
    charge_id: str = ""
    card_country: str = ""
    card_fingerprint: str = ""
    risk_score: int | None = None
    risk_level: str = ""
    outcome_type: str = ""


def payment_facts(intent: Mapping[str, Any], charge: Mapping[str, Any] | None) -> PaymentFacts:
    """Read a PaymentIntent and its latest charge (Stripe's JSON) into PaymentFacts."""
    charge = charge or {}
    card = ((charge.get("payment_method_details") or {}).get("card")) or {}
    outcome = charge.get("outcome") or {}
    score = outcome.get("risk_score")
    return PaymentFacts(
        payment_intent_id=str(intent.get("id") or ""),
        charge_id=str(charge.get("id") or object_id(intent.get("latest_charge")) or ""),
        card_country=str(card.get("country") or "").upper(),
        card_fingerprint=str(card.get("fingerprint") or ""),
        risk_score=int(score) if isinstance(score, int | float) else None,
        risk_level=str(outcome.get("risk_level") or ""),
        outcome_type=str(outcome.get("type") or ""),
    )


@dataclass(frozen=True)
class Identity:
    """The keys velocity is counted by for this booking."""

    email: str
    ip: str
    device: str
    card: str

    def value(self, key: str) -> str:
        return str(getattr(self, key))


def latest_checkout(booking_code: str) -> dict[str, str]:
    """Where the customer last opened the pay page from: ip and device ("" when never)."""
    found = (
        PaymentSignal.objects.filter(booking_code=booking_code, kind=SignalKind.CHECKOUT)
        .order_by("-at")
        .values_list("ip", "device")
        .first()
    )
    ip, device = found or ("", "")
    return {"ip": str(ip or ""), "device": str(device or "")}


def identity(booking: Booking, payment: PaymentFacts | None) -> Identity:
    checkout = latest_checkout(booking.code)
    return Identity(
        email=(booking.customer_email or "").strip().lower(),
        ip=checkout["ip"] or str(booking.source_ip or ""),
        device=checkout["device"],
        card=payment.card_fingerprint if payment else "",
    )


def velocity(who: Identity, *, at: datetime, booking_code: str = "") -> dict[str, int]:
    """Bookings and failed payments per key and window: one grouped query per key (unknown keys are left out).

    A soft decline of this booking's own card (short of funds, the bank
    busy: recovery's business) is not velocity: counting them held every
    recovered payment for fraud review. Card-testing declines (a wrong CVC or
    number, a stolen card) and other cards failing on the booking still count.
    """
    counts: dict[str, int] = {}
    soft = _soft_declines(booking_code, who.card, at=at)
    for key in VELOCITY_KEYS:
        value = who.value(key)
        if not value:
            continue
        column = "card_fingerprint" if key == "card" else key
        rows = PaymentSignal.objects.filter(**{column: value}, at__lte=at, at__gt=at - WINDOWS["7d"])
        aggregates = {
            f"{key}_{name}": Count("booking_code", distinct=True, filter=Q(at__gt=at - span))
            for name, span in WINDOWS.items()
        }
        for name, span in WINDOWS.items():
            aggregates[f"{key}_failures_{name}"] = Count("pk", filter=Q(kind=SignalKind.FAILED, at__gt=at - span))
        counts.update({k: int(v or 0) for k, v in rows.aggregate(**aggregates).items()})
        for name, span in WINDOWS.items():
            excused = sum(1 for t in soft if t > at - span)
            counts[f"{key}_failures_{name}"] = max(counts[f"{key}_failures_{name}"] - excused, 0)
    return counts


def _soft_declines(booking_code: str, card: str, *, at: datetime) -> list[datetime]:
    """When this booking's card was declined softly (recovery recorded each: one failure signal apiece)."""
    if not booking_code or not card:
        return []
    attempts = RetryAttempt.objects.filter(
        case__booking_code=booking_code,
        card_fingerprint=card,
        succeeded=False,
        decline_class=DeclineClass.SOFT,
        attempted_at__lte=at,
        attempted_at__gt=at - WINDOWS["7d"],
    )
    return list(attempts.values_list("attempted_at", flat=True))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if len(values) >= MIN_HISTORY else None


def _history(booking: Booking, at: datetime) -> dict[str, Any]:
    since = at - timedelta(days=HISTORY_DAYS)
    recent = Booking.objects.filter(booked_at__gte=since, booked_at__lt=at).exclude(pk=booking.pk)
    item_ids = [i for i in booking.items.values_list("item_checkfront_id", flat=True) if i is not None]
    main_item = item_ids[0] if item_ids else None
    usual_amount = None
    if main_item is not None:
        # Distinct bookings (a booking with two lines of the item joins twice), not distinct amounts.
        paid = recent.filter(paid_minor__gt=0, items__item_checkfront_id=main_item).distinct()
        latest = paid.order_by("-booked_at").values_list("pk", "total_minor")[:HISTORY_SAMPLE]
        usual_amount = _median([float(a) for _, a in latest])
    sizes = (
        BookingItem.objects.filter(booking__in=recent.order_by("-booked_at").values("pk")[:HISTORY_SAMPLE])
        .values("booking_id")
        .annotate(size=Sum("qty"))
        .values_list("size", flat=True)
    )
    usual_party = _median([float(s) for s in sizes if s])
    rarity = None
    total = recent.count()
    if item_ids and total >= MIN_HISTORY * 4:
        with_item = dict(
            BookingItem.objects.filter(booking__in=recent.values("pk"), item_checkfront_id__in=item_ids)
            .values("item_checkfront_id")
            .annotate(n=Count("booking_id", distinct=True))
            .values_list("item_checkfront_id", "n")
        )
        rarity = 1 - sum(with_item.get(i, 0) / total for i in item_ids) / len(item_ids)
    return {"usual_amount": usual_amount, "usual_party": usual_party, "rarity": rarity}


def _prior_paid(booking: Booking, at: datetime) -> int:
    who = Q(customer_email__iexact=booking.customer_email) if booking.customer_email else Q(pk__in=[])
    if booking.customer_id:
        who |= Q(customer_id=booking.customer_id)
    return Booking.objects.filter(who, paid_minor__gt=0, booked_at__lt=at).exclude(pk=booking.pk).count()


def _domain_seen(booking: Booking, domain: str, at: datetime) -> bool:
    if not domain:
        return True
    earlier = Booking.objects.filter(customer_email__iendswith=f"@{domain}", booked_at__lt=at)
    return earlier.exclude(pk=booking.pk).exists()


def _local_hour(moment: datetime, zone: str) -> int:
    try:
        tz = ZoneInfo(zone or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(settings.TIME_ZONE)
    return moment.astimezone(tz).hour


def _country_code(value: str) -> str:
    value = (value or "").strip().upper()
    return value if len(value) == 2 and value.isalpha() else ""


def gather(
    booking: Booking, *, at: datetime, payment: PaymentFacts | None = None, who: Identity | None = None
) -> Facts:
    """Everything the features need for this booking, as known at `at` (`who`: its identity, if already read)."""
    who = who or identity(booking, payment)
    booked_at = booking.booked_at or booking.created_at or at
    domain = email_domain(booking.customer_email or "")
    where = locate(who.ip) if who.ip else None
    history = _history(booking, booked_at)
    party = booking.items.aggregate(n=Sum("qty"))["n"] or 0
    return Facts(
        booking_code=booking.code,
        amount_minor=booking.total_minor,
        currency=booking.currency,
        booked_at=booked_at,
        start_at=booking.start_at,
        local_hour=_local_hour(booked_at, where.time_zone if where else ""),
        customer_name=booking.customer_name,
        email_domain=domain,
        email_local=(booking.customer_email or "").split("@")[0],
        freemail=is_freemail(domain),
        disposable=is_disposable(domain),
        domain_seen_before=_domain_seen(booking, domain, booked_at),
        prior_paid_bookings=_prior_paid(booking, booked_at),
        usual_amount_minor=history["usual_amount"],
        party_size=int(party),
        usual_party_size=history["usual_party"],
        item_mix_rarity=history["rarity"],
        ip_country=where.country if where else "",
        billing_country=_country_code(booking.customer.country if booking.customer else ""),
        card_country=payment.card_country if payment else "",
        velocity=velocity(who, at=at, booking_code=booking.code),
        stripe_risk_score=payment.risk_score if payment else None,
        stripe_risk_level=payment.risk_level if payment else "",
        stripe_outcome_type=payment.outcome_type if payment else "",
    )
