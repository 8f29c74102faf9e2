"""Verifiers for inbound webhooks: one per source, each turning a raw body into a trusted event."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings


class WebhookRejected(Exception):
    """The delivery is refused; `reason` is said to the sender, nothing is stored."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class InboundRequest:
    """What a verifier may look at: the raw body, the headers and the secret part of the URL, if any."""

    body: bytes
    headers: Mapping[str, str]
    path_token: str = ""


@dataclass(frozen=True)
class VerifiedEvent:
    event_id: str
    event_type: str
    payload: dict[str, Any]


Verifier = Callable[[InboundRequest], VerifiedEvent]


_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Strict JSON: no NaN or Infinity, no numbers that overflow, no absurd nesting."""
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WebhookRejected(f"body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected("body must be a JSON object")
    return payload


# Far deeper than any Stripe or Checkfront event nests; Python's JSON parser and encoder recurse.
MAX_PAYLOAD_DEPTH = 32
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def storable_problem(payload: Any) -> str | None:
    """Why a parsed payload cannot be stored as JSON in every database we run on, or None.

    PostgreSQL's jsonb refuses NUL characters and lone surrogates (both can be
    written escaped in JSON), SQLite and PostgreSQL both refuse NaN and
    Infinity, and a deeply nested value overflows Python's stack.
    """
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_PAYLOAD_DEPTH:
                return f"body is nested deeper than {MAX_PAYLOAD_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if isinstance(key, str) and _UNSTORABLE_TEXT.search(key):
                    return "body contains a NUL character or a lone surrogate"
                stack.append((child, depth + 1))
        elif isinstance(value, str) and _UNSTORABLE_TEXT.search(value):
            return "body contains a NUL character or a lone surrogate"
        elif isinstance(value, float) and not math.isfinite(value):
            return "body contains NaN or Infinity"
    return None


def required_text(payload: Mapping[str, Any], key: str, *, max_length: int) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise WebhookRejected(f"field {key!r} must be a non-empty string")
    if len(value) > max_length:
        raise WebhookRejected(f"field {key!r} is longer than {max_length} characters")
    if not value.isprintable():
        raise WebhookRejected(f"field {key!r} contains control characters")
    return value


def _stripe_signature_parts(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not _TIMESTAMP.fullmatch(value):
                raise WebhookRejected("Stripe-Signature timestamp is not a number")
            timestamp = int(value)
        elif key == "v1":
            # Anything but 64 hex digits cannot match; skip it before comparing.
            if _HEX_SIGNATURE.fullmatch(value):
                signatures.append(value)
    if timestamp is None:
        raise WebhookRejected("Stripe-Signature has no timestamp")
    if not signatures:
        raise WebhookRejected("Stripe-Signature has no v1 signature")
    return timestamp, signatures


def stripe_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Stripe's scheme: hex HMAC-SHA256 of "<timestamp>.<raw body>"."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_stripe(request: InboundRequest) -> VerifiedEvent:
    if request.path_token:
        raise WebhookRejected("Stripe webhooks are posted to /webhooks/stripe/, with no token", status=404)
    body, headers = request.body, request.headers
    secrets: list[str] = settings.STRIPE_WEBHOOK_SECRETS
    if not secrets:
        raise WebhookRejected("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRETS)", status=503)
    header = headers.get("Stripe-Signature")
    if not header:
        raise WebhookRejected("missing Stripe-Signature header")
    timestamp, signatures = _stripe_signature_parts(header)
    tolerance: int = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    if abs(time.time() - timestamp) > tolerance:
        raise WebhookRejected(f"Stripe-Signature timestamp is more than {tolerance}s from now", status=401)
    # Every configured secret is tried so a rotation never drops events.
    expected = [stripe_signature(secret, timestamp, body) for secret in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise WebhookRejected("no Stripe-Signature v1 signature matches", status=401)
    payload = parse_json_object(body)
    verified = VerifiedEvent(
        event_id=required_text(payload, "id", max_length=255),
        event_type=required_text(payload, "type", max_length=128),
        payload=payload,
    )
    _check_stripe_envelope(payload)
    return verified


# Up to the year 9999, as far as Python's datetime (and so dj-stripe) reads a timestamp.
_MAX_TIMESTAMP = 253_402_300_799


def _check_stripe_envelope(payload: Mapping[str, Any]) -> None:
    """The parts of an event processing reads blindly. Refused now, not failed on every retry later."""
    created = payload.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created <= _MAX_TIMESTAMP:
        raise WebhookRejected("field 'created' must be a Unix timestamp")
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejected("field 'data.object' must be an object")
    if not isinstance(payload.get("livemode", False), bool):
        raise WebhookRejected("field 'livemode' must be true or false")


# Other sources register theirs at startup (bookings/apps.py for Checkfront).
VERIFIERS: dict[str, Verifier] = {"stripe": verify_stripe}


def register_verifier(source: str, verifier: Verifier) -> None:
    """An integration app installs its own verifier for its source at startup."""
    VERIFIERS[source] = verifier
