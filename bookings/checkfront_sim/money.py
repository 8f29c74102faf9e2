"""Money as integer minor units inside the simulator, decimal strings ("141.90") on the wire."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from bookings.checkfront_sim.account import CURRENCY_RATES
from bookings.checkfront_sim.errors import InvalidInput


def decimal_string(minor: int) -> str:
    """12345 -> "123.45"; every currency the simulator uses has two decimals."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def parse_amount(text: object) -> int:
    """A positive amount such as "12", "12.5" or "12.50" in minor units."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise InvalidInput(f"{text!r} is not an amount") from exc
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"amount must be positive, not {text!r}")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidInput(f"amount {text!r} has more than two decimals")
    return int(value * 100)


def share_of(minor: int, basis_points: int) -> int:
    """basis_points/10000 of an amount, rounded half up to the cent."""
    return int((Decimal(minor) * basis_points / 10000).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def convert_from_account_currency(minor: int, currency: str) -> int:
    """A CAD list price in another currency, rounded to the cent."""
    return int((Decimal(minor) * CURRENCY_RATES[currency]).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
