"""Money as integer minor units plus an ISO currency code; conversions at the edges only."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 exponents that differ from 2 (Stripe's list of zero-decimal and
# three-decimal currencies); every other currency has two decimals.
_EXPONENTS = {
    **dict.fromkeys(
        [
            "bif",
            "clp",
            "djf",
            "gnf",
            "jpy",
            "kmf",
            "krw",
            "mga",
            "pyg",
            "rwf",
            "ugx",
            "vnd",
            "vuv",
            "xaf",
            "xof",
            "xpf",
        ],
        0,
    ),
    **dict.fromkeys(["bhd", "jod", "kwd", "omr", "tnd"], 3),
}


MAX_MINOR_DIGITS = 18  # every amount in minor units fits a BigIntegerField (< 2**63)


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in its currency's minor unit."""


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.lower(), 2)


def to_minor(amount: str | int | Decimal, currency: str) -> int:
    """'141.90' CAD → 14190. Refuses amounts with more precision than the currency has."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{amount!r} is not an amount") from exc
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not an amount")
    # Far past any real amount (and a 64-bit column): refused before scaleb
    # overflows the decimal context or int() builds a number of a million digits.
    if value and value.adjusted() >= MAX_MINOR_DIGITS - exponent(currency):
        raise MoneyError(f"{str(amount)[:24]!r} is too large an amount")
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise MoneyError(f"{amount!r} has more decimals than {currency.upper()} allows")
    return int(minor)


def from_minor(amount_minor: int, currency: str) -> str:
    """14190 CAD → '141.90' (for APIs and display)."""
    places = exponent(currency)
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f}"
