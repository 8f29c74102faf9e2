"""Stripe-shaped errors: each carries the HTTP status, the error `type` and the body Stripe answers with."""

from __future__ import annotations

from typing import Any

DOC_URL = "https://stripe.com/docs/error-codes/{}"


class StripeError(Exception):
    """A request the simulated Stripe refuses. Subclasses fix the status and the error type."""

    status = 400
    type = "invalid_request_error"
    # Whether the idempotency layer stores this answer: Stripe saves a result only
    # once the endpoint has begun executing, never for a parameter validation error.
    saved = True
    # Whether the writes made before the error stand (a decline is recorded: the
    # PaymentIntent, the failed charge and their events are kept).
    commit = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        headers: dict[str, str] | None = None,
        commit: bool | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        if commit is not None:
            self.commit = commit
        self.message = message
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.headers = headers or {}
        self.extra = {key: value for key, value in extra.items() if value is not None}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = DOC_URL.format(self.code.replace("_", "-"))
        if self.decline_code:
            error["decline_code"] = self.decline_code
        if self.param:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}?t=0"
        error.update(self.extra)
        return {"error": dict(sorted(error.items()))}


class InvalidRequest(StripeError):
    """400 invalid_request_error: the object's state or a value forbids the call."""


class ParamError(InvalidRequest):
    """400 from parameter validation: unknown, missing or malformed (never stored for idempotency)."""

    saved = False


class NotFound(StripeError):
    """404 resource_missing."""

    status = 404

    def __init__(self, message: str, *, param: str | None = "id", code: str | None = "resource_missing") -> None:
        super().__init__(message, code=code, param=param)


class AuthenticationError(StripeError):
    status = 401
    saved = False


class CardError(StripeError):
    """402 card_error: a decline, a blocked payment or a card Stripe cannot use. The state change is kept."""

    status = 402
    type = "card_error"
    commit = True


class IdempotencyError(StripeError):
    """400 idempotency_error: a key reused with other parameters or on another endpoint."""

    type = "idempotency_error"
    saved = False


class IdempotencyInUse(StripeError):
    """409: another request with the same key is still running."""

    status = 409
    type = "idempotency_error"
    saved = False


class RateLimited(StripeError):
    status = 429
    saved = False


class ApiError(StripeError):
    status = 500
    type = "api_error"
    saved = False


def no_such(label: str, object_id: str, *, param: str | None = "id") -> NotFound:
    """Stripe's wording: No such payment_intent: 'pi_123'."""
    return NotFound(f"No such {label}: '{object_id}'", param=param)
