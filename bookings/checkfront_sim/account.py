"""The simulated Checkfront account: company profile, booking statuses, currencies and taxes.

Facts follow ../../../shared/reference/checkfront-api.md. Where the reference
marks something [assumed] the choice made here is noted beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

API_VERSION = "3.0"
ACCOUNT_ID = 1
HOST_ID = "payops-sim.checkfront.com"
COMPANY_NAME = "PayOps Sim Adventures"
ACCOUNT_CURRENCY = "CAD"
# [assumed] The simulated account keeps its clock in UTC, so every date filter
# and ISO string is UTC; real accounts use their own timezone.
TIMEZONE = "UTC"
LOCALE: dict[str, str] = {"id": "en_US", "lang": "en", "currency": ACCOUNT_CURRENCY}

# The two official webhook samples carry different versions; each is kept.
BOOKING_WEBHOOK_VERSION = "3.0"
TRANSACTION_WEBHOOK_VERSION = "3.11.0.0"

DEFAULT_API_KEY = "payops-sim-key"
DEFAULT_API_SECRET = "payops-sim-secret"  # noqa: S105 - a published local default, not a secret

# The staff account the API acts as: notes written through the API carry it.
API_STAFF_ACCOUNT_ID = 1


@dataclass(frozen=True)
class Status:
    status_id: str
    name: str
    # Locked statuses keep their inventory; unlocked ones release it.
    locked: bool


STATUSES: dict[str, Status] = {
    s.status_id: s
    for s in (
        Status("PEND", "Pending", True),
        Status("HOLD", "Reserved", True),
        Status("PART", "Deposit", True),
        Status("PAID", "Paid", True),
        Status("WAIT", "Waiting", False),
        Status("STOP", "Cancelled", False),
        Status("VOID", "Void", False),
        # A custom status, as accounts may add under Manage > Layout > Statuses.
        Status("CONF", "Confirmed", True),
    )
}

# Payments never move a booking out of these.
CANCELLED_STATUSES = frozenset({"STOP", "VOID"})


@dataclass(frozen=True)
class Tax:
    tax_id: int
    name: str
    basis_points: int


# [assumed] The account sells in CAD (`locale.currency`), but bookings carry
# their own `currency_id` (CAD, USD or EUR). Item prices are kept in CAD and
# converted at these fixed rates; each currency has its own taxes.
CURRENCY_RATES: dict[str, Decimal] = {"CAD": Decimal("1"), "USD": Decimal("0.74"), "EUR": Decimal("0.68")}
TAXES: dict[str, tuple[Tax, ...]] = {
    "CAD": (Tax(6, "GST", 500),),
    "USD": (Tax(8, "State Sales Tax", 600), Tax(9, "Tourism Levy", 200)),
    "EUR": (Tax(11, "VAT", 2000),),
}


def company_profile() -> dict[str, Any]:
    """`GET company`, shaped as the official sample."""
    return {
        "url": HOST_ID,
        "name": COMPANY_NAME,
        "plan_id": "1",
        "email": "ops@payops-sim.example",
        "address": "170-422 Richards Street",
        "city": "Vancouver",
        "postal_zip": "V6B 2Z4",
        "region": "BC",
        "region_id": None,
        "country_id": "CA",
        "currency_id": ACCOUNT_CURRENCY,
        "timezone": TIMEZONE,
        "locale_id": LOCALE["id"],
        "lang_id": LOCALE["lang"],
        "date_format": "%m/%d/%y",
        "time_format": "%I:%M %p",
        "phone": "1 (800) 559-0985",
        "utc_offset": 0,
        "currency": {
            "symbol": "$",
            "symbol_space": 0,
            "symbol_precedes": 1,
            "decimals": 2,
            "decimal_separator": ".",
            "thousands_separator": ",",
        },
    }
