"""Card numbers in text, found by shape and the Luhn check: one rule for refusing them and for scanning for them.

A card number is 13 to 19 digits that pass the Luhn check and start as the
networks Stripe takes do (Amex, Diners and JCB 3, Visa 4, Mastercard 5 and
2221-2720, Discover and UnionPay 6), written either

- unbroken (`4242424242424242`), or
- as three or more groups of 3 to 6 digits with the separators people type
  (one or two spaces, hyphens or dots: `4242 4242 4242 4242`, `3782-822463-10005`).
  Every stretch of whole groups is tried, so a card number followed by its CVC
  (`4242 4242 4242 4242 123`) or after another number (`ref 12 4242 …`) is still one.

It must stand as a word: a run glued to a letter, a digit or `_` (inside a
Stripe id like `pi_3N…`, a hex digest, a longer number) is not a card number,
nor is a run after `+` (a phone number) or on either side of a decimal point
(`0.4242424242424242`, a model's metric). Timestamps (10 digits; 13 in
milliseconds, starting with 1), amounts, UUIDs and phone numbers fall outside
the rule by length, first digits or grouping; so do date-time stamps
(`retry-20261128023839`: no card starts with 2000-2220).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Digit groups with up to two separators between them, standing as a word.
# A leading + is kept in the run so that the whole phone number is passed over.
_RUN = re.compile(r"(?<![\w+])(?<!\d\.)\+?\d+(?:[ .\-]{1,2}\d+)*(?!\w)(?!\.\d)")
_PART = re.compile(r"(\d+)([ .\-]*)")
MIN_DIGITS, MAX_DIGITS = 13, 19
REDACTED = "[card number removed]"


@dataclass(frozen=True)
class CardNumber:
    """Where a card number is in the text (the whole written run) and its digits."""

    start: int
    end: int
    digits: str

    @property
    def masked(self) -> str:
        return mask(self.digits)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """Digits alone (no separators) that are a card number by length, first digits and the Luhn check."""
    return MIN_DIGITS <= len(digits) <= MAX_DIGITS and _network_prefix(digits) and luhn_ok(digits)


def _network_prefix(digits: str) -> bool:
    # Mastercard's 2-series is 2221-2720: a year-first stamp (2026…) is never a card.
    return digits[0] in "3456" or (digits[0] == "2" and 2221 <= int(digits[:4]) <= 2720)


def mask(digits: str) -> str:
    """First 6 and last 4, as Stripe and card receipts show a number: the rest is never written anywhere."""
    return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"


def _card_in_run(run: str) -> str | None:
    if run.startswith("+"):
        return None
    parts = _PART.findall(run)
    groups = [digits for digits, _ in parts]
    # A group of its own: not beside a decimal point (the run is then a number like 0.4242…).
    for i, group in enumerate(groups):
        decimal = (i > 0 and parts[i - 1][1] == ".") or (parts[i][1] == "." and i + 1 < len(parts))
        if not decimal and is_card_number(group):
            return group
    # Three or more short groups, as cards are written; a long group among them is a number of its own.
    for first in range(len(groups)):
        digits = ""
        for count, group in enumerate(groups[first:], start=1):
            if not 3 <= len(group) <= 6:
                break
            digits += group
            if len(digits) > MAX_DIGITS:
                break
            if count >= 3 and is_card_number(digits):
                return digits
    return None


def find_card_numbers(text: str) -> list[CardNumber]:
    found = []
    for match in _RUN.finditer(text):
        digits = _card_in_run(match.group())
        if digits:
            found.append(CardNumber(match.start(), match.end(), digits))
    return found


def contains_card_number(text: str) -> bool:
    return bool(find_card_numbers(text))


def redact(text: str) -> str:
    """The text with every card number replaced: PayOps stores no card number, whoever typed it where.

    The whole written run goes (a CVC or reference beside the number with it):
    losing a reference number is the cheaper mistake.
    """
    out, at = [], 0
    for card in find_card_numbers(text):
        out += [text[at : card.start], REDACTED]
        at = card.end
    return "".join([*out, text[at:]])


def redact_value(value: Any) -> Any:
    """A decoded JSON value (a webhook body, an API answer) with every card number in its text replaced."""
    if isinstance(value, str):
        return redact(value) if contains_card_number(value) else value
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    return value
