"""Money conversions are exact or refused."""

from __future__ import annotations

import pytest

from payops.money import MoneyError, from_minor, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("141.90", "CAD", 14190), ("0.00", "usd", 0), ("1200", "jpy", 1200), ("1.234", "kwd", 1234), ("5", "eur", 500)],
)
def test_amounts_convert_to_minor_units_and_back(amount: str, currency: str, minor: int) -> None:
    assert to_minor(amount, currency) == minor
    assert to_minor(from_minor(minor, currency), currency) == minor


@pytest.mark.parametrize(("amount", "currency"), [("1.999", "usd"), ("12.5", "jpy"), ("abc", "usd"), ("NaN", "usd")])
def test_inexact_or_nonsense_amounts_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        to_minor(amount, currency)


def test_from_minor_formats_with_the_currency_decimals() -> None:
    assert from_minor(14190, "cad") == "141.90"
    assert from_minor(1200, "jpy") == "1200"
    assert from_minor(-5, "usd") == "-0.05"
