"""Card numbers in text are found by shape, first digit and the Luhn check, and replaced; other numbers stay."""

from __future__ import annotations

import pytest

from payops.card_numbers import REDACTED, contains_card_number, find_card_numbers, mask, redact, redact_value


@pytest.mark.parametrize(
    "typed",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "2223003122003222",  # Mastercard's 2-series
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
        "pi_3N4242424242424242abc",  # inside a Stripe id
        "x4242424242424242",
        "sha256 4a4242424242424242f0",  # inside a hex digest
        "0.4242424242424242",  # a model's metric
        "4242424242424242.5",
        "+44 4242 4242 4242 4242",  # a phone number, however long
        "1732761234567",  # a timestamp in milliseconds: 13 digits, Luhn-valid, but starts with 1
        "1732761234",
        "2026-11-28 01:46:24,123",
        "12345678-1234-1234-1234-123456789012",  # an all-digit UUID
        "fraud-gbm-20261128-014624-ab12cd",
        "retry-20261128023839-ab12cd",  # a model version: 14 digits, Luhn-valid, a date-time, not a card
    ],
)
def test_other_numbers_are_left_alone(other: str) -> None:
    assert not contains_card_number(other)
    assert redact(other) == other


def test_a_found_number_is_reported_masked_with_its_place_in_the_text() -> None:
    text = 'note: "paid with 5555-5555-5555-4444 123" ok'
    [card] = find_card_numbers(text)
    assert text[card.start : card.end] == "5555-5555-5555-4444 123"
    assert (card.digits, card.masked) == ("5555555555554444", "555555******4444")
    assert mask("378282246310005") == "378282*****0005"


def test_a_json_value_keeps_its_shape_and_loses_only_card_numbers() -> None:
    payload = {"meta": {"note": "card 4242 4242 4242 4242 thanks"}, "total": "186.90", "qty": 2}
    assert redact_value(payload) == {"meta": {"note": f"card {REDACTED} thanks"}, "total": "186.90", "qty": 2}
    ids = ["pi_3N4242424242424242abc", 4242424242424242]  # an id, and a number (never text) as it came
    assert redact_value(ids) == ids
