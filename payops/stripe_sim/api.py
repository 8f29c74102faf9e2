"""The /v1/ routes: path and method to handler and parameter schema, and running a call as one transaction.

A call runs inside one store transaction: its writes and events commit
together or not at all. A card decline is the exception Stripe makes (the
failed charge and the PaymentIntent's new state stand), marked by the error's
`commit`. Events go to the webhook dispatcher after the commit, while the store
lock is still held, so deliveries are queued in the order the writes happened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from payops.stripe_sim import (
    balance,
    catalogue,
    charges,
    customers,
    disputes,
    events,
    payment_intents,
    payment_methods,
    refunds,
    setup_intents,
    webhook_endpoints,
)
from payops.stripe_sim.clock import SimClock
from payops.stripe_sim.context import Ctx, Doc
from payops.stripe_sim.errors import NotFound, StripeError
from payops.stripe_sim.expand import expand
from payops.stripe_sim.params import LIST, RETRIEVE, Schema, Str, validate
from payops.stripe_sim.store import Store
from payops.stripe_sim.webhooks import WebhookDispatcher

Handler = Callable[..., Doc]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    schema: Schema


def _route(method: str, path: str, handler: Handler, schema: Schema) -> Route:
    regex = "^" + re.sub(r"\{\w+\}", r"([^/]+)", path) + "$"
    return Route(method, re.compile(regex), handler, schema)


ROUTES: list[Route] = [
    _route("GET", "/v1/account", balance.retrieve_account, RETRIEVE),
    _route("GET", "/v1/balance", balance.retrieve_balance, RETRIEVE),
    _route("GET", "/v1/balance_transactions", balance.list_transactions, balance.LIST_PARAMS),
    _route("GET", "/v1/balance_transactions/{id}", balance.retrieve_transaction, RETRIEVE),
    _route("GET", "/v1/balance/history", balance.list_transactions, balance.LIST_PARAMS),
    _route("GET", "/v1/balance/history/{id}", balance.retrieve_transaction, RETRIEVE),
    _route("POST", "/v1/customers", customers.create, customers.CREATE),
    _route("GET", "/v1/customers", customers.list_, customers.LIST_PARAMS),
    _route("GET", "/v1/customers/search", customers.search, customers.SEARCH),
    _route("GET", "/v1/customers/{id}", customers.retrieve, RETRIEVE),
    _route("POST", "/v1/customers/{id}", customers.update, customers.UPDATE),
    _route("DELETE", "/v1/customers/{id}", customers.delete, {}),
    _route("GET", "/v1/customers/{id}/payment_methods", customers.list_payment_methods, customers.PAYMENT_METHODS),
    _route("GET", "/v1/customers/{id}/payment_methods/{pm}", customers.retrieve_payment_method, RETRIEVE),
    _route("POST", "/v1/payment_methods", payment_methods.create, payment_methods.CREATE),
    _route("GET", "/v1/payment_methods", payment_methods.list_, payment_methods.LIST_PARAMS),
    _route("GET", "/v1/payment_methods/{id}", payment_methods.retrieve, RETRIEVE),
    _route("POST", "/v1/payment_methods/{id}", payment_methods.update, payment_methods.UPDATE),
    _route("POST", "/v1/payment_methods/{id}/attach", payment_methods.attach_endpoint, payment_methods.ATTACH),
    _route("POST", "/v1/payment_methods/{id}/detach", payment_methods.detach, payment_methods.DETACH),
    _route("POST", "/v1/payment_intents", payment_intents.create, payment_intents.CREATE),
    _route("GET", "/v1/payment_intents", payment_intents.list_, payment_intents.LIST_PARAMS),
    _route("GET", "/v1/payment_intents/{id}", payment_intents.retrieve, {**RETRIEVE, "client_secret": Str()}),
    _route("POST", "/v1/payment_intents/{id}", payment_intents.update, payment_intents.UPDATE),
    _route("POST", "/v1/payment_intents/{id}/confirm", payment_intents.confirm, payment_intents.CONFIRM),
    _route("POST", "/v1/payment_intents/{id}/capture", payment_intents.capture, payment_intents.CAPTURE),
    _route("POST", "/v1/payment_intents/{id}/cancel", payment_intents.cancel, payment_intents.CANCEL),
    _route("GET", "/v1/charges", charges.list_, charges.LIST_PARAMS),
    _route("GET", "/v1/charges/{id}", charges.retrieve, RETRIEVE),
    _route("POST", "/v1/charges/{id}", charges.update, charges.UPDATE),
    _route("POST", "/v1/refunds", refunds.create, refunds.CREATE),
    _route("GET", "/v1/refunds", refunds.list_, refunds.LIST_PARAMS),
    _route("GET", "/v1/refunds/{id}", refunds.retrieve, RETRIEVE),
    _route("POST", "/v1/refunds/{id}", refunds.update, refunds.UPDATE),
    _route("GET", "/v1/disputes", disputes.list_, disputes.LIST_PARAMS),
    _route("GET", "/v1/disputes/{id}", disputes.retrieve, RETRIEVE),
    _route("POST", "/v1/disputes/{id}", disputes.update, disputes.UPDATE),
    _route("POST", "/v1/disputes/{id}/close", disputes.close, disputes.CLOSE),
    _route("GET", "/v1/radar/early_fraud_warnings", disputes.list_warnings, disputes.LIST_PARAMS),
    _route("GET", "/v1/radar/early_fraud_warnings/{id}", disputes.retrieve_warning, RETRIEVE),
    _route("POST", "/v1/products", catalogue.create_product, catalogue.PRODUCT_CREATE),
    _route("GET", "/v1/products", catalogue.list_products, catalogue.PRODUCT_LIST),
    _route("GET", "/v1/products/{id}", catalogue.retrieve_product, RETRIEVE),
    _route("POST", "/v1/products/{id}", catalogue.update_product, catalogue.PRODUCT_UPDATE),
    _route("DELETE", "/v1/products/{id}", catalogue.delete_product, {}),
    _route("GET", "/v1/products/{id}/features", catalogue.list_features, catalogue.FEATURES),
    _route("POST", "/v1/prices", catalogue.create_price, catalogue.PRICE_CREATE),
    _route("GET", "/v1/prices", catalogue.list_prices, catalogue.PRICE_LIST),
    _route("GET", "/v1/prices/{id}", catalogue.retrieve_price, RETRIEVE),
    _route("POST", "/v1/prices/{id}", catalogue.update_price, catalogue.PRICE_UPDATE),
    _route("POST", "/v1/setup_intents", setup_intents.create, setup_intents.CREATE),
    _route("GET", "/v1/setup_intents", setup_intents.list_, setup_intents.LIST_PARAMS),
    _route("GET", "/v1/setup_intents/{id}", setup_intents.retrieve, {**RETRIEVE, "client_secret": Str()}),
    _route("POST", "/v1/setup_intents/{id}", setup_intents.update, setup_intents.UPDATE),
    _route("POST", "/v1/setup_intents/{id}/confirm", setup_intents.confirm, setup_intents.CONFIRM),
    _route("POST", "/v1/setup_intents/{id}/cancel", setup_intents.cancel, setup_intents.CANCEL),
    _route("GET", "/v1/events", events.list_, events.LIST_PARAMS),
    _route("GET", "/v1/events/{id}", events.retrieve, RETRIEVE),
    _route("POST", "/v1/webhook_endpoints", webhook_endpoints.create, webhook_endpoints.CREATE),
    _route("GET", "/v1/webhook_endpoints", webhook_endpoints.list_, LIST),
    _route("GET", "/v1/webhook_endpoints/{id}", webhook_endpoints.retrieve, RETRIEVE),
    _route("POST", "/v1/webhook_endpoints/{id}", webhook_endpoints.update, webhook_endpoints.UPDATE),
    _route("DELETE", "/v1/webhook_endpoints/{id}", webhook_endpoints.delete, {}),
]


@dataclass(frozen=True)
class Answer:
    status: int
    body: Doc
    headers: Mapping[str, str]
    saved: bool = True  # whether the idempotency layer may store it


class StripeApi:
    def __init__(
        self,
        store: Store,
        clock: SimClock,
        webhooks: WebhookDispatcher,
        settings: Callable[[], Doc],
    ) -> None:
        self.store = store
        self.clock = clock
        self.webhooks = webhooks
        self.settings = settings

    def find(self, method: str, path: str) -> tuple[Route, tuple[str, ...]]:
        for route in ROUTES:
            match = route.pattern.match(path)
            if match and route.method == method:
                return route, match.groups()
        raise NotFound(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at "
            "https://support.stripe.com/.",
            param=None,
            code=None,
        )

    def context(self, conn: Any, *, request_id: str | None = None, idempotency_key: str | None = None) -> Ctx:
        return Ctx(
            conn,
            clock=self.clock,
            request_id=request_id,
            idempotency_key=idempotency_key,
            webhook_count=self.webhooks.counter(),
            settings=self.settings(),
        )

    def handle(
        self, method: str, path: str, raw: Mapping[str, Any], *, request_id: str, idempotency_key: str | None
    ) -> Answer:
        try:
            route, args = self.find(method, path)
            params = validate(route.schema, raw)
            return Answer(200, self.run(route.handler, params, args, request_id, idempotency_key), {})
        except StripeError as error:
            return Answer(error.status, error.body(request_id), error.headers, saved=error.saved)

    def run(
        self,
        handler: Handler,
        params: dict[str, Any],
        args: tuple[str, ...],
        request_id: str,
        idempotency_key: str | None,
    ) -> Doc:
        with self.store.lock:
            failure: StripeError | None = None
            with self.store.write() as conn:
                ctx = self.context(conn, request_id=request_id, idempotency_key=idempotency_key)
                try:
                    doc = handler(ctx, params, *args)
                    if doc.get("object") not in ("list", "search_result"):
                        doc = expand(ctx, ctx.render(doc), params.get("expand"))
                except StripeError as error:
                    if not error.commit:
                        raise  # the transaction rolls back
                    failure = error  # a decline: its writes stand
            self.webhooks.publish(ctx.events)
        if failure is not None:
            raise failure
        return doc

    def perform(self, action: Callable[[Ctx], Any]) -> Any:
        """Run a control-API or scheduled action as one transaction and publish its events."""
        with self.store.lock:
            with self.store.write() as conn:
                ctx = self.context(conn)
                result = action(ctx)
            self.webhooks.publish(ctx.events)
        return result
