"""Card numbers in free text (a staff note, a reviewer's edit): found by shape and the Luhn check, never kept."""

from __future__ import annotations

import re

# 13 to 19 digits, optionally grouped by single spaces or hyphens, as people type them.
_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
REDACTED = "[card number removed]"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _is_card_number(candidate: str) -> bool:
    return _luhn_ok(re.sub(r"[ -]", "", candidate))


def contains_card_number(text: str) -> bool:
    return any(_is_card_number(m.group()) for m in _CANDIDATE.finditer(text))


def redact(text: str) -> str:
    """The text with every card number replaced: PayOps stores no card number, whoever typed it where."""
    return _CANDIDATE.sub(lambda m: REDACTED if _is_card_number(m.group()) else m.group(), text)
