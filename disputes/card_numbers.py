"""Card numbers in free text (a staff note, a reviewer's edit): found by shape and the Luhn check, never kept.

A run of digit groups is read with the separators people type (spaces,
hyphens, dots, one or two at a time), and every stretch of whole groups of
13 to 19 digits is tried: a card number followed by its CVC ("4242 4242 4242
4242 123") or after another number ("ref 12 4242 …") is still a card number.
A run that holds one is removed whole: losing a reference number beside it
is the cheaper mistake. Stretches within one unbroken group are not tried, so
an ordinary long number is left alone unless it is itself Luhn-valid.
"""

from __future__ import annotations

import re

# Digits with up to two separators between them; at least 13 digits.
_RUN = re.compile(r"\d(?:[ .\-]{0,2}\d){12,}")
REDACTED = "[card number removed]"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _holds_card_number(run: str) -> bool:
    groups = re.findall(r"\d+", run)
    for first in range(len(groups)):
        digits = ""
        for group in groups[first:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _luhn_ok(digits):
                return True
    return False


def contains_card_number(text: str) -> bool:
    return any(_holds_card_number(m.group()) for m in _RUN.finditer(text))


def redact(text: str) -> str:
    """The text with every card number replaced: PayOps stores no card number, whoever typed it where."""
    return _RUN.sub(lambda m: REDACTED if _holds_card_number(m.group()) else m.group(), text)
