"""Stripe-style identifiers: a prefix and 24 random base62 characters, as live Stripe ids look."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

ALPHABET = string.digits + string.ascii_letters


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """pi_3Qx..., cus_Q..., evt_... (the prefix without its underscore)."""
    return f"{prefix}_{random_token()}"


def request_id() -> str:
    return f"req_{random_token(14)}"


def client_secret(object_id: str) -> str:
    return f"{object_id}_secret_{random_token(25)}"


def webhook_secret() -> str:
    return f"whsec_{random_token(32)}"


def fingerprint(card_number: str) -> str:
    """Stable per card number, like Stripe's (which is stable per account); the number itself is not kept."""
    digest = hmac.new(b"payops-stripe-sim-fingerprint", card_number.encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:12], "big")
    chars = []
    for _ in range(16):
        value, index = divmod(value, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)
