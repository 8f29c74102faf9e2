"""What the retry model sees: the raw facts of one planned retry, and the numbers they become."""

from __future__ import annotations

import calendar
import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings

from payops.money import exponent

# Codes common enough to get their own column; the rest share "code_other".
COMMON_CODES = (
    "insufficient_funds",
    "generic_decline",
    "do_not_honor",
    "processing_error",
    "try_again_later",
    "card_velocity_exceeded",
    "expired_card",
    "incorrect_cvc",
    "authentication_required",
)
# Technical failures clear within hours; waiting longer does not help them.
TECHNICAL_CODES = frozenset({"processing_error", "try_again_later", "issuer_not_available", "reenter_transaction"})
BRANDS = ("visa", "mastercard", "amex")
FUNDINGS = ("credit", "debit", "prepaid")

# Where a charge currency's cards are "domestic"; there is no account-country
# setting, so a card issued where the currency is at home counts as domestic.
_HOME_COUNTRIES: dict[str, frozenset[str]] = {
    "usd": frozenset({"US"}),
    "eur": frozenset(
        "AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK".split()  # the euro area
    ),
    "gbp": frozenset({"GB"}),
    "cad": frozenset({"CA"}),
    "aud": frozenset({"AU"}),
    "nzd": frozenset({"NZ"}),
    "chf": frozenset({"CH", "LI"}),
    "jpy": frozenset({"JP"}),
    "sek": frozenset({"SE"}),
    "nok": frozenset({"NO"}),
    "dkk": frozenset({"DK"}),
    "mxn": frozenset({"MX"}),
}


@dataclass(frozen=True)
class Feature:
    """One model input. Binary features are explained only when present."""

    name: str
    description: str
    raises: str = ""
    lowers: str = ""
    binary: bool = True


def _code_feature(code: str) -> Feature:
    words = code.replace("_", " ")
    return Feature(
        f"code_{code}",
        f"the decline code is {code}",
        f"{words} declines recover more often than most",
        f"{words} declines recover less often than most",
    )


FEATURES: tuple[Feature, ...] = (
    Feature("class_soft", "the decline is soft", "a soft decline: the same card often pays later"),
    Feature("class_customer", "the decline needs the customer", lowers="the decline needs the customer to act"),
    Feature("class_hard", "the decline is hard", lowers="a hard decline: the issuer will not approve"),
    *(_code_feature(code) for code in COMMON_CODES),
    Feature("code_other", "a less common decline code"),
    Feature(
        "nsf_first_day",
        "insufficient funds, retried within a day of the first failure",
        lowers="insufficient funds retries succeed less often in the first day",
    ),
    Feature(
        "log_hours_since_first_failure",
        "log(1 + hours since the first failure)",
        "more time since the first failure: the cause may have cleared",
        "soon after the first failure: the cause may not have cleared",
        binary=False,
    ),
    Feature(
        "log_hours_since_last_attempt",
        "log(1 + hours since the last attempt)",
        "a longer wait since the last attempt",
        "a short wait since the last attempt",
        binary=False,
    ),
    Feature(
        "technical_wait",
        "log(1 + hours since the last attempt), for technical errors only",
        lowers="technical errors clear within hours: waiting longer does not help",
        binary=False,
    ),
    Feature("weekend", "the retry falls on a local Saturday or Sunday", lowers="weekend retries succeed less often"),
    Feature("business_hours", "the retry falls 08:00-17:59 local time", "a retry in local banking hours"),
    Feature("night", "the retry falls 00:00-05:59 local time", lowers="night-time retries succeed less often"),
    Feature(
        "payday_window",
        "the retry falls on the 1st, 2nd, 15th, 16th or last day of the month",
        "a retry on or just after a payday (1st, 15th, month end)",
    ),
    Feature(
        "pre_payday",
        "the retry falls in the 3 days before a payday",
        lowers="balances are lowest in the days before payday",
    ),
    Feature(
        "attempts_so_far",
        "retries already made on this payment",
        "few retries made so far",
        "each failed retry makes the next less likely",
        binary=False,
    ),
    Feature(
        "log_amount",
        "log(1 + amount in major units)",
        "a small amount",
        "larger amounts are declined more often",
        binary=False,
    ),
    *(Feature(f"brand_{brand}", f"a {brand} card") for brand in BRANDS),
    *(Feature(f"funding_{funding}", f"a {funding} card") for funding in FUNDINGS[:2]),
    Feature("funding_prepaid", "a prepaid card", lowers="prepaid cards pay only after a top-up"),
    Feature("card_domestic", "the card is issued where the currency is at home", "a domestic card"),
    Feature(
        "log_lifetime_value",
        "log(1 + the customer's lifetime payments, major units)",
        "a customer who has paid us well before",
        "a new customer or one who has paid little before",
        binary=False,
    ),
    Feature(
        "log_past_failures",
        "log(1 + the customer's past failed payments)",
        "few past failed payments",
        "the customer's payments have failed before",
        binary=False,
    ),
    Feature(
        "log_past_recoveries",
        "log(1 + the customer's past failed payments later recovered)",
        "the customer's past failed payments were recovered",
        "the customer's past failures were not recovered",
        binary=False,
    ),
    Feature(
        "log_past_chargebacks",
        "log(1 + the customer's past chargebacks)",
        "no past chargebacks",
        "the customer has disputed payments before",
        binary=False,
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
FEATURE_BY_NAME: dict[str, Feature] = {feature.name: feature for feature in FEATURES}


def display_zone() -> ZoneInfo:
    """The account's display time zone (PAYOPS_DISPLAY_TIME_ZONE via TIME_ZONE), else UTC."""
    return ZoneInfo(getattr(settings, "TIME_ZONE", None) or "UTC")


def is_domestic(card_country: str, currency: str) -> bool:
    return card_country.strip().upper() in _HOME_COUNTRIES.get(currency.strip().lower(), frozenset())


def is_payday(day: int, days_in_month: int) -> bool:
    return day in (1, 15) or day == days_in_month


@dataclass(frozen=True)
class RetryFeatures:
    """The raw facts about one retry, as of the moment it would run. JSON-able through as_dict()."""

    decline_class: str
    decline_code: str
    hours_since_first_failure: float
    hours_since_last_attempt: float
    local_weekday: int  # 0 = Monday, in the display time zone
    local_hour: int
    day_of_month: int
    days_in_month: int
    attempts_so_far: int  # retries already made; 0 for the first retry
    amount_minor: int
    currency: str
    card_brand: str = ""
    card_funding: str = ""
    card_domestic: bool = False
    lifetime_value_minor: int = 0
    past_failures: int = 0
    past_recoveries: int = 0
    past_chargebacks: int = 0

    @classmethod
    def at_time(
        cls,
        *,
        at: datetime,
        first_failed_at: datetime,
        last_attempt_at: datetime,
        decline_class: str,
        decline_code: str,
        attempts_so_far: int,
        amount_minor: int,
        currency: str,
        card_brand: str = "",
        card_funding: str = "",
        card_country: str = "",
        lifetime_value_minor: int = 0,
        past_failures: int = 0,
        past_recoveries: int = 0,
        past_chargebacks: int = 0,
    ) -> RetryFeatures:
        """The features of a retry at `at`, with the calendar read in the display time zone."""
        local = at.astimezone(display_zone())
        return cls(
            decline_class=decline_class,
            decline_code=decline_code,
            hours_since_first_failure=max(0.0, (at - first_failed_at).total_seconds() / 3600),
            hours_since_last_attempt=max(0.0, (at - last_attempt_at).total_seconds() / 3600),
            local_weekday=local.weekday(),
            local_hour=local.hour,
            day_of_month=local.day,
            days_in_month=calendar.monthrange(local.year, local.month)[1],
            attempts_so_far=attempts_so_far,
            amount_minor=amount_minor,
            currency=currency.lower(),
            card_brand=card_brand.lower(),
            card_funding=card_funding.lower(),
            card_domestic=is_domestic(card_country, currency),
            lifetime_value_minor=lifetime_value_minor,
            past_failures=past_failures,
            past_recoveries=past_recoveries,
            past_chargebacks=past_chargebacks,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetryFeatures:
        """Rebuild from as_dict(); raises KeyError or TypeError on a dict of another shape."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def vectorise(self) -> np.ndarray:
        """The numbers the model multiplies, in FEATURE_NAMES order."""
        code = self.decline_code if self.decline_code in COMMON_CODES else "other"
        payday_window = self.day_of_month in (1, 2, 15, 16) or self.day_of_month == self.days_in_month
        days_to_payday = min(
            (d - self.day_of_month) % self.days_in_month
            for d in (1, 15, self.days_in_month)
            if (d - self.day_of_month) % self.days_in_month > 0
        )
        values: dict[str, float] = {
            f"class_{self.decline_class}": 1.0,
            f"code_{code}": 1.0,
            "nsf_first_day": float(self.decline_code == "insufficient_funds" and self.hours_since_first_failure < 24),
            "log_hours_since_first_failure": math.log1p(self.hours_since_first_failure),
            "log_hours_since_last_attempt": math.log1p(self.hours_since_last_attempt),
            "technical_wait": math.log1p(self.hours_since_last_attempt) * (self.decline_code in TECHNICAL_CODES),
            "weekend": float(self.local_weekday >= 5),
            "business_hours": float(8 <= self.local_hour < 18),
            "night": float(self.local_hour < 6),
            "payday_window": float(payday_window),
            "pre_payday": float(not payday_window and days_to_payday <= 3),
            "attempts_so_far": float(self.attempts_so_far),
            "log_amount": math.log1p(max(0, self.amount_minor) / 10 ** exponent(self.currency)),
            f"brand_{self.card_brand}": 1.0,
            f"funding_{self.card_funding}": 1.0,
            "card_domestic": float(self.card_domestic),
            "log_lifetime_value": math.log1p(max(0, self.lifetime_value_minor) / 10 ** exponent(self.currency)),
            "log_past_failures": math.log1p(max(0, self.past_failures)),
            "log_past_recoveries": math.log1p(max(0, self.past_recoveries)),
            "log_past_chargebacks": math.log1p(max(0, self.past_chargebacks)),
        }
        return np.array([values.get(name, 0.0) for name in FEATURE_NAMES], dtype=float)
