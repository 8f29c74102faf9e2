"""The fraud model's features: each one named, documented and put in words, computed from a booking's facts.

Facts (fraud/facts.py) are gathered from the mirror: the booking, its
customer's history, velocity counts, IP geolocation and the Stripe charge.
Features are plain numbers derived from them, NaN when a fact is absent (no
geolocation database, no charge yet): the gradient-boosted model handles NaN
itself, the prior counts an absent feature as no evidence.

Only these features are stored on an Assessment and seen in training: no
email, name, IP or card identifier ever reaches a model artefact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

NAN = float("nan")
VELOCITY_KEYS = ("email", "ip", "card", "device")
VELOCITY_WINDOWS = ("1h", "24h", "7d")
RISK_LEVELS = {"normal": 0.0, "elevated": 1.0, "highest": 2.0}


@dataclass(frozen=True)
class Facts:
    """What is known about one booking at scoring time (fraud/facts.py gathers it)."""

    booking_code: str
    amount_minor: int
    currency: str
    booked_at: datetime
    start_at: datetime | None
    local_hour: int | None
    customer_name: str = ""
    email_domain: str = ""
    email_local: str = ""
    freemail: bool = False
    disposable: bool = False
    domain_seen_before: bool = True
    prior_paid_bookings: int = 0
    usual_amount_minor: float | None = None
    party_size: int = 0
    usual_party_size: float | None = None
    item_mix_rarity: float | None = None
    ip_country: str = ""
    billing_country: str = ""
    card_country: str = ""
    # "email_24h" → how many bookings; "email_failures_24h" → failed payments.
    velocity: Mapping[str, int] = field(default_factory=dict)
    stripe_risk_score: int | None = None
    stripe_risk_level: str = ""
    stripe_outcome_type: str = ""


@dataclass(frozen=True)
class Feature:
    """One model input: its name, what it measures, and how a reviewer reads a value that raises the risk."""

    name: str
    description: str
    compute: Callable[[Facts], float]
    words: Callable[[float, Facts], str]
    group: str


def _hours(facts: Facts) -> float:
    if facts.start_at is None:
        return NAN
    return max(0.0, (facts.start_at - facts.booked_at).total_seconds() / 3600)


def _ratio(value: float, usual: float | None) -> float:
    return value / usual if usual else NAN


def _mismatch(a: str, b: str) -> float:
    return NAN if not a or not b else float(a.upper() != b.upper())


def _name_email_mismatch(facts: Facts) -> float:
    """1 when none of the name's words (3+ letters) appears in the email's local part."""
    words = [w for w in "".join(c if c.isalpha() else " " for c in facts.customer_name.lower()).split() if len(w) >= 3]
    local = "".join(c for c in facts.email_local.lower() if c.isalpha())
    if not words or not local:
        return NAN
    return float(not any(w in local or local in w for w in words))


def _countries(_: float, facts: Facts) -> str:
    parts = [
        f"{label} {country}"
        for label, country in (
            ("card issued in", facts.card_country),
            ("IP in", facts.ip_country),
            ("billing in", facts.billing_country),
        )
        if country
    ]
    return ", ".join(parts) if parts else "countries do not match"


_NOUNS = {"email": "email address", "ip": "IP address", "card": "card", "device": "device"}


def _count(name: str) -> Callable[[Facts], float]:
    # Absent, not zero, when the key is unknown (no card before a charge, no device before the pay page).
    return lambda f: float(f.velocity[name]) if name in f.velocity else NAN


def _velocity(key: str, window: str) -> Feature:
    noun = _NOUNS[key]
    return Feature(
        name=f"{key}_bookings_{window}",
        description=f"bookings made with this {noun} in the last {window}, this one included; absent when unknown",
        compute=_count(f"{key}_{window}"),
        words=lambda v, f: f"{v:.0f} bookings with this {noun} in {window}",
        group=f"velocity_{key}",
    )


def _failures(key: str, window: str) -> Feature:
    noun = _NOUNS[key]
    return Feature(
        name=f"{key}_failures_{window}",
        description=f"failed payment attempts with this {noun} in the last {window}; absent when unknown",
        compute=_count(f"{key}_failures_{window}"),
        words=lambda v, f: f"{v:.0f} failed payments with this {noun} in {window}",
        group=f"velocity_{key}",
    )


FEATURES: tuple[Feature, ...] = (
    Feature(
        "amount_log",
        "the amount to pay, log(1 + major units): large amounts are what fraud goes for",
        lambda f: math.log1p(max(f.amount_minor, 0) / 100),
        lambda v, f: f"{math.expm1(v):,.0f} {f.currency.upper()} to pay",
        "amount",
    ),
    Feature(
        "amount_vs_item_usual",
        "the amount over the median paid booking of the same main item (last 180 days); absent with under 5",
        lambda f: _ratio(f.amount_minor, f.usual_amount_minor),
        lambda v, f: f"{v:.1f}× the usual amount for this activity",
        "amount",
    ),
    Feature(
        "lead_time_hours",
        "hours from booking to the start: last-minute, high-value bookings are a classic pattern",
        _hours,
        lambda v, f: f"booked {v:.0f} h before the start" if v < 72 else f"booked {v / 24:.0f} days before the start",
        "lead_time",
    ),
    Feature(
        "hour_local",
        "the hour the booking was made in the customer's zone (the IP's, else the account's)",
        lambda f: NAN if f.local_hour is None else float(f.local_hour),
        lambda v, f: f"booked at {v:02.0f}:00 the customer's time",
        "hour",
    ),
    Feature(
        "returning_customer",
        "1 when this customer (email or Checkfront id) has a paid booking before this one",
        lambda f: float(f.prior_paid_bookings > 0),
        lambda v, f: "returning customer" if v else "first booking from this customer",
        "customer",
    ),
    Feature(
        "prior_paid_bookings",
        "how many earlier bookings of this customer were paid",
        lambda f: float(f.prior_paid_bookings),
        lambda v, f: f"{v:.0f} earlier paid bookings",
        "customer",
    ),
    Feature(
        "email_freemail",
        "1 when the email is at a free-mail provider (fraud/data/free_email_domains.txt)",
        lambda f: float(f.freemail),
        lambda v, f: f"free-mail address ({f.email_domain})",
        "email",
    ),
    Feature(
        "email_disposable",
        "1 when the email is at a throwaway-address provider (fraud/data/disposable_email_domains.txt)",
        lambda f: float(f.disposable),
        lambda v, f: f"disposable email address ({f.email_domain})",
        "email",
    ),
    Feature(
        "email_domain_new",
        "1 when no earlier booking used this email domain",
        lambda f: NAN if not f.email_domain else float(not f.domain_seen_before),
        lambda v, f: f"email domain {f.email_domain} never seen before",
        "email",
    ),
    Feature(
        "name_email_mismatch",
        "1 when no word of the customer's name appears in the email's local part",
        _name_email_mismatch,
        lambda v, f: "name and email do not match",
        "email",
    ),
    Feature(
        "ip_billing_country_mismatch",
        "1 when the IP's country differs from the billing country; absent without geolocation or billing country",
        lambda f: _mismatch(f.ip_country, f.billing_country),
        _countries,
        "geo",
    ),
    Feature(
        "card_billing_country_mismatch",
        "1 when the card's issuing country differs from the billing country; absent before a charge",
        lambda f: _mismatch(f.card_country, f.billing_country),
        _countries,
        "geo",
    ),
    Feature(
        "ip_card_country_mismatch",
        "1 when the IP's country differs from the card's issuing country",
        lambda f: _mismatch(f.ip_country, f.card_country),
        _countries,
        "geo",
    ),
    *(_velocity(key, window) for key in VELOCITY_KEYS for window in VELOCITY_WINDOWS),
    *(_failures(key, window) for key in VELOCITY_KEYS for window in VELOCITY_WINDOWS),
    Feature(
        "party_size",
        "people booked (the quantities of the booking's lines)",
        lambda f: float(f.party_size),
        lambda v, f: f"party of {v:.0f}",
        "party",
    ),
    Feature(
        "party_size_vs_usual",
        "party size over the account's median party size (last 180 days)",
        lambda f: _ratio(f.party_size, f.usual_party_size),
        lambda v, f: f"party {v:.1f}× the usual size",
        "party",
    ),
    Feature(
        "item_mix_rarity",
        "1 − the mean share of recent bookings that include each of this booking's items: unusual mixes score high",
        lambda f: NAN if f.item_mix_rarity is None else f.item_mix_rarity,
        lambda v, f: "an unusual mix of activities",
        "party",
    ),
    Feature(
        "stripe_risk_score",
        "Stripe Radar's risk score of the charge (0-99); absent before a charge",
        lambda f: NAN if f.stripe_risk_score is None else float(f.stripe_risk_score),
        lambda v, f: f"Stripe risk score {v:.0f}",
        "stripe",
    ),
    Feature(
        "stripe_risk_level",
        "Stripe Radar's risk level: 0 normal, 1 elevated, 2 highest",
        lambda f: RISK_LEVELS.get(f.stripe_risk_level, NAN),
        lambda v, f: f"Stripe rates the charge {f.stripe_risk_level or 'unknown'} risk",
        "stripe",
    ),
    Feature(
        "stripe_outcome_flagged",
        "1 when Stripe's outcome sent the charge to manual review or blocked it",
        lambda f: NAN if not f.stripe_outcome_type else float(f.stripe_outcome_type in ("manual_review", "blocked")),
        lambda v, f: f"Stripe's outcome: {f.stripe_outcome_type.replace('_', ' ')}",
        "stripe",
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.group for f in FEATURES))
GROUP_INDEX: dict[str, np.ndarray] = {
    g: np.array([i for i, f in enumerate(FEATURES) if f.group == g], dtype=int) for g in GROUPS
}


@dataclass(frozen=True)
class FraudFeatures:
    """One booking's feature values, in FEATURE_NAMES order (NaN: absent)."""

    values: np.ndarray

    def as_dict(self) -> dict[str, float | None]:
        """JSON for the Assessment: NaN is stored as null."""
        return {
            n: (None if math.isnan(v) else round(float(v), 6)) for n, v in zip(FEATURE_NAMES, self.values, strict=True)
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, float | None]) -> FraudFeatures:
        """Back from an Assessment; a feature added since reads as absent."""
        return cls(np.array([NAN if stored.get(n) is None else float(stored[n]) for n in FEATURE_NAMES]))  # type: ignore[arg-type]

    def __getitem__(self, name: str) -> float:
        return float(self.values[FEATURE_NAMES.index(name)])


def compute_features(facts: Facts) -> FraudFeatures:
    return FraudFeatures(np.array([feature.compute(facts) for feature in FEATURES], dtype=float))
