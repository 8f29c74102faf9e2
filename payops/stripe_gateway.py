"""The Stripe gateway: the only code that writes to Stripe.

Every write carries an idempotency key chosen by the caller: a Decision's,
through `operation_key`, so a retried task or a re-run executor gets Stripe's
stored answer instead of a second charge or refund. Stripe keeps a key for 24
hours; a write resent after that is a new write, so callers that may resend
later must first look for what the earlier attempt made (by metadata).

Every call has a timeout; 429s, 409s, network failures and 5xx (unless Stripe
says not to) are retried with backoff under the same key; failures come out as
the typed errors in payops/stripe_errors.py, never as stripe-python's.
`STRIPE_API_BASE` points the gateway (and dj-stripe) at the local stand-in;
empty, it talks to Stripe itself.

Reads the workflows need sit here too, so one place owns timeouts and retries;
dj-stripe's re-retrieval during a mirror sync goes through stripe-python's
global client, which payops.apps configures with the same timeout.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
from django.conf import settings

from payops.stripe_errors import (
    CardDeclined,
    StripeAuthError,
    StripeGatewayError,
    StripeIdempotencyConflict,
    StripeInvalidRequest,
    StripeNotConfigured,
    StripeNotFound,
    StripeOutcomeUnknown,
    StripeUnavailable,
    should_retry,
    translate_error,
)

__all__ = [
    "CardDeclined",
    "StripeAuthError",
    "StripeConfig",
    "StripeGateway",
    "StripeGatewayError",
    "StripeIdempotencyConflict",
    "StripeInvalidRequest",
    "StripeNotConfigured",
    "StripeNotFound",
    "StripeOutcomeUnknown",
    "StripeUnavailable",
    "operation_key",
    "stripe_gateway",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Stripe caps an idempotency key at 255 characters.
MAX_IDEMPOTENCY_KEY_LENGTH = 255


# --- configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class StripeConfig:
    api_key: str
    api_base: str = ""  # empty: Stripe itself
    timeout_seconds: float = 30.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0

    @classmethod
    def from_settings(cls) -> StripeConfig:
        return cls(
            api_key=settings.STRIPE_SECRET_KEY,
            api_base=settings.STRIPE_API_BASE,
            timeout_seconds=settings.STRIPE_TIMEOUT_SECONDS,
            max_attempts=settings.STRIPE_MAX_ATTEMPTS,
        )


def operation_key(decision_key: str, operation: str) -> str:
    """The key for one write of a decision: Stripe refuses one key reused for a different request."""
    return f"{decision_key}:{operation}"


def _require_key(idempotency_key: str) -> str:
    if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValueError(f"every Stripe write needs an idempotency key of 1–{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    return idempotency_key


def _require_minor_units(amount_minor: int, what: str = "amount") -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValueError(f"{what} must be a positive integer of minor units, not {amount_minor!r}")


def _require_amount(amount_minor: int, currency: str) -> None:
    _require_minor_units(amount_minor)
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"currency must be a three-letter ISO code, not {currency!r}")


def _params(**values: Any) -> Any:
    """Only the parameters given: Stripe rejects a null where it expects a value.

    Typed Any: stripe-python's per-call TypedDicts would add a cast at every call.
    """
    return {name: value for name, value in values.items() if value is not None}


# --- the gateway --------------------------------------------------------------------


class StripeGateway:
    """One configured Stripe client. Cheap to build; `stripe_gateway()` gives the settings' one."""

    def __init__(self, config: StripeConfig, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._client: stripe.StripeClient | None = None

    @property
    def client(self) -> stripe.StripeClient:
        if not self.config.api_key:
            raise StripeNotConfigured("STRIPE_SECRET_KEY is not set")
        if self._client is None:
            self._client = stripe.StripeClient(
                self.config.api_key,
                base_addresses={"api": self.config.api_base} if self.config.api_base else None,
                http_client=stripe.RequestsClient(timeout=self.config.timeout_seconds),
                # Retries are ours, so they share one policy and one log line.
                max_network_retries=0,
            )
        return self._client

    def _call(self, what: str, call: Callable[[Any], T], *, idempotency_key: str | None = None) -> T:
        options: Any = {}
        if idempotency_key is not None:
            options["idempotency_key"] = _require_key(idempotency_key)
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                return call(options)
            except stripe.StripeError as exc:
                if attempt == self.config.max_attempts or not should_retry(exc):
                    raise translate_error(exc, write=idempotency_key is not None) from exc
                delay = min(self.config.max_backoff_seconds, self.config.backoff_seconds * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)  # jitter, so retries from many workers spread out
                logger.warning(
                    "Stripe %s failed (%s, request %s, key %s); retry %d of %d in %.1fs",
                    what,
                    exc.http_status or type(exc).__name__,
                    exc.request_id,
                    idempotency_key or "-",
                    attempt,
                    self.config.max_attempts - 1,
                    delay,
                    extra={"idempotency_key": idempotency_key, "stripe_request_id": exc.request_id},
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    # --- customers and payment methods ---------------------------------------

    def create_customer(
        self,
        *,
        idempotency_key: str,
        email: str = "",
        name: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> stripe.Customer:
        params = _params(email=email or None, name=name or None, metadata=dict(metadata or {}))
        return self._call(
            "create customer",
            lambda o: self.client.v1.customers.create(params, o),
            idempotency_key=idempotency_key,
        )

    def update_customer(self, customer_id: str, *, idempotency_key: str, **fields: Any) -> stripe.Customer:
        return self._call(
            "update customer",
            lambda o: self.client.v1.customers.update(customer_id, _params(**fields), o),
            idempotency_key=idempotency_key,
        )

    def find_customers(self, *, email: str, limit: int = 10) -> list[stripe.Customer]:
        result = self._call("list customers", lambda o: self.client.v1.customers.list({"email": email, "limit": limit}))
        return list(result.data)

    def retrieve_customer(self, customer_id: str) -> stripe.Customer:
        return self._call("retrieve customer", lambda o: self.client.v1.customers.retrieve(customer_id))

    def attach_payment_method(
        self, payment_method_id: str, *, customer_id: str, idempotency_key: str
    ) -> stripe.PaymentMethod:
        return self._call(
            "attach payment method",
            lambda o: self.client.v1.payment_methods.attach(
                payment_method_id,
                {"customer": customer_id},
                o,
            ),
            idempotency_key=idempotency_key,
        )

    def list_payment_methods(self, *, customer_id: str) -> list[stripe.PaymentMethod]:
        result = self._call(
            "list payment methods",
            lambda o: self.client.v1.payment_methods.list({"customer": customer_id, "type": "card", "limit": 100}),
        )
        return list(result.data)

    def create_setup_intent(
        self,
        *,
        idempotency_key: str,
        customer_id: str,
        payment_method_id: str | None = None,
        confirm: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> stripe.SetupIntent:
        params = _params(
            customer=customer_id,
            payment_method=payment_method_id,
            confirm=confirm or None,
            usage="off_session",
            payment_method_types=["card"],
            metadata=dict(metadata or {}),
        )
        return self._call(
            "create setup intent",
            lambda o: self.client.v1.setup_intents.create(params, o),
            idempotency_key=idempotency_key,
        )

    # --- payment intents ---------------------------------------------------------

    def create_payment_intent(
        self,
        *,
        idempotency_key: str,
        amount_minor: int,
        currency: str,
        customer_id: str | None = None,
        payment_method_id: str | None = None,
        confirm: bool = False,
        off_session: bool = False,
        manual_capture: bool = False,
        setup_future_usage: str | None = None,
        description: str | None = None,
        receipt_email: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> stripe.PaymentIntent:
        """Create (and with confirm=True, charge) a card PaymentIntent. A decline raises CardDeclined."""
        _require_amount(amount_minor, currency)
        if off_session and not confirm:
            raise ValueError("off_session applies only when confirming")
        params = _params(
            amount=amount_minor,
            currency=currency.lower(),
            customer=customer_id,
            payment_method=payment_method_id,
            payment_method_types=["card"],
            confirm=confirm or None,
            off_session=off_session or None,
            capture_method="manual" if manual_capture else None,
            setup_future_usage=setup_future_usage,
            description=description,
            receipt_email=receipt_email,
            metadata=dict(metadata or {}),
        )
        return self._call(
            "create payment intent",
            lambda o: self.client.v1.payment_intents.create(params, o),
            idempotency_key=idempotency_key,
        )

    def retrieve_payment_intent(self, payment_intent_id: str, *, expand: Sequence[str] = ()) -> stripe.PaymentIntent:
        params = _params(expand=list(expand) if expand else None)
        return self._call(
            "retrieve payment intent",
            lambda o: self.client.v1.payment_intents.retrieve(payment_intent_id, params),
        )

    def update_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str, metadata: Mapping[str, str] | None = None, **fields: Any
    ) -> stripe.PaymentIntent:
        params = _params(metadata=dict(metadata) if metadata is not None else None, **fields)
        return self._call(
            "update payment intent",
            lambda o: self.client.v1.payment_intents.update(payment_intent_id, params, o),
            idempotency_key=idempotency_key,
        )

    def confirm_payment_intent(
        self,
        payment_intent_id: str,
        *,
        idempotency_key: str,
        payment_method_id: str | None = None,
        off_session: bool = False,
    ) -> stripe.PaymentIntent:
        """Charge again (a retry) or for the first time. A decline raises CardDeclined."""
        params = _params(payment_method=payment_method_id, off_session=off_session or None)
        return self._call(
            "confirm payment intent",
            lambda o: self.client.v1.payment_intents.confirm(payment_intent_id, params, o),
            idempotency_key=idempotency_key,
        )

    def capture_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str, amount_minor: int | None = None
    ) -> stripe.PaymentIntent:
        """Capture an authorization, all of it or `amount_minor` (the rest is released)."""
        if amount_minor is not None:
            _require_minor_units(amount_minor, "amount to capture")
        params = _params(amount_to_capture=amount_minor)
        return self._call(
            "capture payment intent",
            lambda o: self.client.v1.payment_intents.capture(payment_intent_id, params, o),
            idempotency_key=idempotency_key,
        )

    def cancel_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str, reason: str | None = None
    ) -> stripe.PaymentIntent:
        """Cancel; `reason` is one of Stripe's: duplicate, fraudulent, requested_by_customer, abandoned."""
        params = _params(cancellation_reason=reason)
        return self._call(
            "cancel payment intent",
            lambda o: self.client.v1.payment_intents.cancel(payment_intent_id, params, o),
            idempotency_key=idempotency_key,
        )

    def retrieve_charge(self, charge_id: str) -> stripe.Charge:
        return self._call("retrieve charge", lambda o: self.client.v1.charges.retrieve(charge_id))

    # --- refunds --------------------------------------------------------------------

    def create_refund(
        self,
        *,
        idempotency_key: str,
        payment_intent_id: str,
        amount_minor: int | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> stripe.Refund:
        """Refund all that is left of the payment, or `amount_minor` of it."""
        if amount_minor is not None:
            _require_minor_units(amount_minor, "refund amount")
        params = _params(
            payment_intent=payment_intent_id, amount=amount_minor, reason=reason, metadata=dict(metadata or {})
        )
        return self._call(
            "create refund",
            lambda o: self.client.v1.refunds.create(params, o),
            idempotency_key=idempotency_key,
        )

    def list_refunds(self, *, payment_intent_id: str) -> list[stripe.Refund]:
        result = self._call(
            "list refunds", lambda o: self.client.v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100})
        )
        return list(result.data)

    # --- disputes -------------------------------------------------------------------

    def find_disputes(self, *, charge_id: str) -> list[stripe.Dispute]:
        result = self._call("list disputes", lambda o: self.client.v1.disputes.list({"charge": charge_id}))
        return list(result.data)

    def retrieve_dispute(self, dispute_id: str) -> stripe.Dispute:
        return self._call("retrieve dispute", lambda o: self.client.v1.disputes.retrieve(dispute_id))

    def update_dispute(
        self,
        dispute_id: str,
        *,
        idempotency_key: str,
        evidence: Mapping[str, str] | None = None,
        submit: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> stripe.Dispute:
        """Stage evidence, or with submit=True send it to the bank (final: it cannot be changed after)."""
        params = _params(
            evidence=dict(evidence) if evidence else None,
            submit=submit,
            metadata=dict(metadata) if metadata else None,
        )
        return self._call(
            "update dispute",
            lambda o: self.client.v1.disputes.update(dispute_id, params, o),
            idempotency_key=idempotency_key,
        )

    def close_dispute(self, dispute_id: str, *, idempotency_key: str) -> stripe.Dispute:
        """Accept the dispute: it is marked lost and the money stays with the cardholder."""
        return self._call(
            "close dispute",
            lambda o: self.client.v1.disputes.close(dispute_id, {}, o),
            idempotency_key=idempotency_key,
        )

    # --- catalogue ------------------------------------------------------------------

    def create_product(
        self, *, idempotency_key: str, name: str, metadata: Mapping[str, str] | None = None
    ) -> stripe.Product:
        params = _params(name=name, metadata=dict(metadata or {}))
        return self._call(
            "create product",
            lambda o: self.client.v1.products.create(params, o),
            idempotency_key=idempotency_key,
        )

    def create_price(
        self,
        *,
        idempotency_key: str,
        product_id: str,
        unit_amount_minor: int,
        currency: str,
        lookup_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> stripe.Price:
        _require_amount(unit_amount_minor, currency)
        params = _params(
            product=product_id,
            unit_amount=unit_amount_minor,
            currency=currency.lower(),
            lookup_key=lookup_key,
            metadata=dict(metadata or {}),
        )
        return self._call(
            "create price",
            lambda o: self.client.v1.prices.create(params, o),
            idempotency_key=idempotency_key,
        )

    # --- webhook endpoints ------------------------------------------------------------

    def list_webhook_endpoints(self) -> list[stripe.WebhookEndpoint]:
        result = self._call("list webhook endpoints", lambda o: self.client.v1.webhook_endpoints.list({"limit": 100}))
        return list(result.data)

    def create_webhook_endpoint(
        self,
        *,
        idempotency_key: str,
        url: str,
        enabled_events: Sequence[str],
        description: str = "",
        api_version: str | None = None,
    ) -> stripe.WebhookEndpoint:
        """Subscribe `url` to `enabled_events`. The answer is the only time Stripe shows the signing secret."""
        params = _params(
            url=url, enabled_events=list(enabled_events), description=description or None, api_version=api_version
        )
        return self._call(
            "create webhook endpoint",
            lambda o: self.client.v1.webhook_endpoints.create(params, o),
            idempotency_key=idempotency_key,
        )


def stripe_gateway() -> StripeGateway:
    """The gateway for the current settings (built per call: settings can change under tests)."""
    return StripeGateway(StripeConfig.from_settings())
