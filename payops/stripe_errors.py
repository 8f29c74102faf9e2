"""The typed errors the Stripe gateway raises, translated from stripe-python's.

What a caller may do next is the point of each type: a decline is the card's
answer, an invalid request is our bug or the object's state, "unavailable" is
worth trying again later under the same idempotency key, and "outcome
unknown" is not: Stripe may have acted, and replays a stored 5xx for the
key's 24 hours, so a person (or a lookup by metadata) must settle it first.
"""

from __future__ import annotations

from typing import Any

import stripe

from payops.stripe_payloads import object_id

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}


class StripeGatewayError(Exception):
    """Base of every error the gateway raises. `retryable`: trying later may succeed."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str = "",
        param: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.param = param
        self.request_id = request_id


class StripeNotConfigured(StripeGatewayError):
    """No STRIPE_SECRET_KEY: nothing can be sent."""


class StripeAuthError(StripeGatewayError):
    """The key was refused (401), or a restricted key lacks a permission (403)."""


class StripeInvalidRequest(StripeGatewayError):
    """Stripe refused the call as made: a bad parameter or the object's state forbids it."""


class StripeNotFound(StripeInvalidRequest):
    """The object does not exist (resource_missing)."""


class StripeIdempotencyConflict(StripeGatewayError):
    """The key was already used for a different request: a bug in the caller, never retried."""


class StripeUnavailable(StripeGatewayError):
    """Stripe did not answer usefully after every retry (timeouts, 429, 5xx)."""

    retryable = True


class StripeOutcomeUnknown(StripeGatewayError):
    """A write ended in a 5xx: Stripe may or may not have acted. Never resent under the same key."""


class CardDeclined(StripeGatewayError):
    """The card was declined (HTTP 402). Carries what the retry and fraud rules read."""

    def __init__(
        self,
        message: str,
        *,
        decline_code: str = "",
        network_advice_code: str = "",
        network_decline_code: str = "",
        payment_intent_id: str = "",
        charge_id: str = "",
        payment_method_id: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.decline_code = decline_code
        self.network_advice_code = network_advice_code
        self.network_decline_code = network_decline_code
        self.payment_intent_id = payment_intent_id
        self.charge_id = charge_id
        self.payment_method_id = payment_method_id

    @property
    def reason(self) -> str:
        """The most specific reason Stripe gave: the decline code, else the error code (expired_card, …)."""
        return self.decline_code or self.code


def translate_error(exc: stripe.StripeError, *, write: bool = False) -> StripeGatewayError:
    """stripe-python's exception as one of ours, keeping Stripe's code, param and request id.

    `write`: the request carried an idempotency key, so a final 5xx leaves
    its outcome unknown rather than merely unavailable.
    """
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    raw_detail = body.get("error")
    detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
    common: dict[str, Any] = {
        "http_status": exc.http_status,
        "code": str(detail.get("code") or exc.code or ""),
        "param": str(detail.get("param") or ""),
        "request_id": exc.request_id or "",
    }
    message = str(detail.get("message") or exc.user_message or exc) or type(exc).__name__
    if isinstance(exc, stripe.CardError):
        return CardDeclined(
            message,
            decline_code=str(detail.get("decline_code") or ""),
            network_advice_code=str(detail.get("network_advice_code") or ""),
            network_decline_code=str(detail.get("network_decline_code") or ""),
            payment_intent_id=object_id(detail.get("payment_intent")),
            charge_id=object_id(detail.get("charge")),
            payment_method_id=object_id(detail.get("payment_method")),
            **common,
        )
    if isinstance(exc, stripe.IdempotencyError):
        return StripeIdempotencyConflict(message, **common)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return StripeAuthError(message, **common)
    if write and (exc.http_status or 0) >= 500:
        return StripeOutcomeUnknown(message, **common)
    if isinstance(exc, stripe.APIConnectionError) or (exc.http_status or 0) in RETRY_STATUSES:
        return StripeUnavailable(message, **common)
    if isinstance(exc, stripe.InvalidRequestError):
        if common["code"] == "resource_missing":
            return StripeNotFound(message, **common)
        return StripeInvalidRequest(message, **common)
    return StripeUnavailable(message, **common)


def should_retry(exc: stripe.StripeError) -> bool:
    # Stripe says outright when a retry is (not) safe; trust it over our guess.
    hint = (exc.headers or {}).get("stripe-should-retry") if exc.headers else None
    if hint in ("true", "false"):
        return hint == "true"
    if isinstance(exc, stripe.APIConnectionError):
        return True
    return (exc.http_status or 0) in RETRY_STATUSES
