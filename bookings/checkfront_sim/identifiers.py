"""The shapes of Checkfront's identifiers: booking and customer codes, tokens, transaction ids."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime

_BASE62 = string.digits + string.ascii_letters


def booking_code(rng: random.Random, created: float) -> str:
    """Four letters and the booking date as ddmmyy: "KMVQ-060314" [support]."""
    letters = "".join(rng.choices(string.ascii_uppercase, k=4))
    return f"{letters}-{datetime.fromtimestamp(created, tz=UTC):%d%m%y}"


def customer_code(rng: random.Random) -> str:
    """Like the sample's "NQ2-039-421": two letters and a digit, then two groups of three digits."""
    head = "".join(rng.choices(string.ascii_uppercase, k=2)) + rng.choice(string.digits)
    return f"{head}-{rng.randrange(1000):03d}-{rng.randrange(1000):03d}"


def booking_token(rng: random.Random) -> str:
    """The 64-hex customer token of the index row."""
    return f"{rng.getrandbits(256):064x}"


def stripe_id(rng: random.Random, prefix: str) -> str:
    """An id shaped like Stripe's ("pi_3Mtw...", "ch_3...", "re_3..."): prefix, "3", 23 base62 characters."""
    return f"{prefix}_3" + "".join(rng.choices(_BASE62, k=23))


def pos_transaction_id(rng: random.Random) -> str:
    """[assumed] POS transactions get a local id; Checkfront's own format is not documented."""
    return "POS" + "".join(rng.choices(string.digits, k=10))
