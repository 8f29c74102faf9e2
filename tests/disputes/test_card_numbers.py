"""Card numbers in free text are found by shape and the Luhn check, and replaced; other numbers stay."""

from __future__ import annotations

import pytest

from disputes.card_numbers import REDACTED, contains_card_number, redact


@pytest.mark.parametrize(
    "typed",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4000-0000-0000-0259",
        "378282246310005",
        "4242.4242.4242.4242",
        "4242  4242  4242  4242",
        "4242 4242 4242 4242 123",  # with its CVC after it
        "5555 5555 5555 4444 12",
        "12 4242 4242 4242 4242",  # after another number
    ],
)
def test_a_card_number_however_typed_is_removed(typed: str) -> None:
    text = f"Customer read out {typed} on the phone."
    assert contains_card_number(text)
    assert redact(text) == f"Customer read out {REDACTED} on the phone."


@pytest.mark.parametrize(
    "other",
    [
        "4242424242424241",  # the right length but fails the Luhn check (Stripe's invalid test number)
        "Booking KMVQ-060314, booking_id 3149",
        "Call 604 555 0199",
        "12345678901234567890123",  # longer than any card number
    ],
)
def test_other_numbers_are_left_alone(other: str) -> None:
    assert not contains_card_number(other)
    assert redact(other) == other
