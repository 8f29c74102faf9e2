"""Verifying and naming Checkfront webhooks.

Checkfront signs nothing and sends no event id (reference §6), so a delivery
is trusted when its URL ends in one of CHECKFRONT_WEBHOOK_TOKENS, and its
idempotency key is derived from the payload itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings

from bookings.webhook_formats import BodyFormatError, parse_body
from payops.webhook_verifiers import InboundRequest, VerifiedEvent, WebhookRejected, storable_problem


def verify_checkfront(request: InboundRequest) -> VerifiedEvent:
    tokens: list[str] = settings.CHECKFRONT_WEBHOOK_TOKENS
    if not tokens:
        raise WebhookRejected("Checkfront webhooks are not configured (CHECKFRONT_WEBHOOK_TOKENS)", status=503)
    if not request.path_token:
        raise WebhookRejected("Checkfront webhooks are posted to /webhooks/checkfront/<token>/", status=404)
    given = request.path_token.encode()
    # Compare with every token, in constant time, so timing says nothing.
    if not any(hmac.compare_digest(given, token.encode()) for token in tokens):
        raise WebhookRejected("unknown Checkfront webhook token", status=403)
    try:
        payload = parse_body(request.body, request.headers.get("Content-Type", ""))
    except BodyFormatError as exc:
        raise WebhookRejected(str(exc)) from exc
    # Before classify hashes it: a payload too deep or unstorable is refused with its reason.
    problem = storable_problem(payload)
    if problem:
        raise WebhookRejected(problem)
    # A form body with an empty key (b"=") parses to a list, not an object.
    if not isinstance(payload, dict):
        raise WebhookRejected("a Checkfront webhook body is an object of fields")
    event_type, event_id = classify(payload)
    return VerifiedEvent(event_id=event_id, event_type=event_type, payload=payload)


def classify(payload: dict[str, Any]) -> tuple[str, str]:
    """(event type, idempotency key) for a parsed Checkfront webhook body."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    booking = payload.get("booking")
    if isinstance(booking, dict):
        if not _scalar(booking.get("code")):
            raise WebhookRejected("booking webhook has no booking code")
        # The same body twice is the same event; a later change of the
        # booking makes a different body and so a different key.
        return "booking.modified", f"booking:{digest}"
    kind = _scalar(payload.get("type"))
    action = _scalar(payload.get("action")) or "insert"
    if kind == "transaction":
        transaction = payload.get("transaction")
        if not isinstance(transaction, dict) or not _scalar(transaction.get("booking_id")):
            raise WebhookRejected("transaction webhook has no transaction with a booking_id")
        return f"transaction.{action}", f"transaction:{digest}"
    if kind in ("item", "rate"):
        return f"{kind}.{action}", f"{kind}:{digest}"
    raise WebhookRejected("not a Checkfront booking, transaction, item or rate webhook")


def _scalar(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def booking_code(payload: dict[str, Any]) -> str:
    booking = payload.get("booking") or {}
    return _scalar(booking.get("code"))


def booking_source_ip(payload: dict[str, Any]) -> str:
    booking = payload.get("booking") or {}
    return _scalar(booking.get("source_ip"))
