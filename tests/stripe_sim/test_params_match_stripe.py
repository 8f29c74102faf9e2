"""Every parameter the simulator accepts exists in Stripe's API, as stripe-python 15.6.2's typed params say.

stripe-python's TypedDicts are generated from Stripe's OpenAPI spec, so a
parameter missing from them is one Stripe would answer `parameter_unknown`
to: the simulator must not accept it, or code could pass here and fail there.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

import pytest
import stripe.params

from payops.stripe_sim.api import ROUTES
from payops.stripe_sim.params import Arr, Field, Hash, Metadata, Range

# Route (method, path) -> stripe-python's params class for it.
PARAMS_CLASS = {
    ("GET", "/v1/account"): "AccountRetrieveCurrentParams",
    ("GET", "/v1/balance"): "BalanceRetrieveParams",
    ("GET", "/v1/balance_transactions"): "BalanceTransactionListParams",
    ("GET", "/v1/balance_transactions/{id}"): "BalanceTransactionRetrieveParams",
    ("GET", "/v1/balance/history"): "BalanceTransactionListParams",
    ("GET", "/v1/balance/history/{id}"): "BalanceTransactionRetrieveParams",
    ("POST", "/v1/customers"): "CustomerCreateParams",
    ("GET", "/v1/customers"): "CustomerListParams",
    ("GET", "/v1/customers/search"): "CustomerSearchParams",
    ("GET", "/v1/customers/{id}"): "CustomerRetrieveParams",
    ("POST", "/v1/customers/{id}"): "CustomerUpdateParams",
    ("DELETE", "/v1/customers/{id}"): "CustomerDeleteParams",
    ("GET", "/v1/customers/{id}/payment_methods"): "CustomerListPaymentMethodsParams",
    ("GET", "/v1/customers/{id}/payment_methods/{pm}"): "CustomerRetrievePaymentMethodParams",
    ("POST", "/v1/payment_methods"): "PaymentMethodCreateParams",
    ("GET", "/v1/payment_methods"): "PaymentMethodListParams",
    ("GET", "/v1/payment_methods/{id}"): "PaymentMethodRetrieveParams",
    ("POST", "/v1/payment_methods/{id}"): "PaymentMethodUpdateParams",
    ("POST", "/v1/payment_methods/{id}/attach"): "PaymentMethodAttachParams",
    ("POST", "/v1/payment_methods/{id}/detach"): "PaymentMethodDetachParams",
    ("POST", "/v1/payment_intents"): "PaymentIntentCreateParams",
    ("GET", "/v1/payment_intents"): "PaymentIntentListParams",
    ("GET", "/v1/payment_intents/{id}"): "PaymentIntentRetrieveParams",
    ("POST", "/v1/payment_intents/{id}"): "PaymentIntentUpdateParams",
    ("POST", "/v1/payment_intents/{id}/confirm"): "PaymentIntentConfirmParams",
    ("POST", "/v1/payment_intents/{id}/capture"): "PaymentIntentCaptureParams",
    ("POST", "/v1/payment_intents/{id}/cancel"): "PaymentIntentCancelParams",
    ("GET", "/v1/charges"): "ChargeListParams",
    ("GET", "/v1/charges/{id}"): "ChargeRetrieveParams",
    ("POST", "/v1/charges/{id}"): "ChargeUpdateParams",
    ("POST", "/v1/refunds"): "RefundCreateParams",
    ("GET", "/v1/refunds"): "RefundListParams",
    ("GET", "/v1/refunds/{id}"): "RefundRetrieveParams",
    ("POST", "/v1/refunds/{id}"): "RefundUpdateParams",
    ("GET", "/v1/disputes"): "DisputeListParams",
    ("GET", "/v1/disputes/{id}"): "DisputeRetrieveParams",
    ("POST", "/v1/disputes/{id}"): "DisputeUpdateParams",
    ("POST", "/v1/disputes/{id}/close"): "DisputeCloseParams",
    ("GET", "/v1/radar/early_fraud_warnings"): "radar.EarlyFraudWarningListParams",
    ("GET", "/v1/radar/early_fraud_warnings/{id}"): "radar.EarlyFraudWarningRetrieveParams",
    ("POST", "/v1/products"): "ProductCreateParams",
    ("GET", "/v1/products"): "ProductListParams",
    ("GET", "/v1/products/{id}"): "ProductRetrieveParams",
    ("POST", "/v1/products/{id}"): "ProductUpdateParams",
    ("DELETE", "/v1/products/{id}"): "ProductDeleteParams",
    ("GET", "/v1/products/{id}/features"): "ProductFeatureListParams",
    ("POST", "/v1/prices"): "PriceCreateParams",
    ("GET", "/v1/prices"): "PriceListParams",
    ("GET", "/v1/prices/{id}"): "PriceRetrieveParams",
    ("POST", "/v1/prices/{id}"): "PriceUpdateParams",
    ("POST", "/v1/setup_intents"): "SetupIntentCreateParams",
    ("GET", "/v1/setup_intents"): "SetupIntentListParams",
    ("GET", "/v1/setup_intents/{id}"): "SetupIntentRetrieveParams",
    ("POST", "/v1/setup_intents/{id}"): "SetupIntentUpdateParams",
    ("POST", "/v1/setup_intents/{id}/confirm"): "SetupIntentConfirmParams",
    ("POST", "/v1/setup_intents/{id}/cancel"): "SetupIntentCancelParams",
    ("GET", "/v1/events"): "EventListParams",
    ("GET", "/v1/events/{id}"): "EventRetrieveParams",
    ("POST", "/v1/webhook_endpoints"): "WebhookEndpointCreateParams",
    ("GET", "/v1/webhook_endpoints"): "WebhookEndpointListParams",
    ("GET", "/v1/webhook_endpoints/{id}"): "WebhookEndpointRetrieveParams",
    ("POST", "/v1/webhook_endpoints/{id}"): "WebhookEndpointUpdateParams",
    ("DELETE", "/v1/webhook_endpoints/{id}"): "WebhookEndpointDeleteParams",
}


def _params_class(name: str) -> Any:
    module: Any = stripe.params
    for part in name.split("."):
        module = getattr(module, part)
    return module


def _stripe_fields(cls: Any) -> dict[str, tuple[bool, list[Any]]]:
    """name -> (required, nested TypedDicts) from the class's own annotations (strings or typing objects)."""
    module = sys.modules[cls.__module__]
    fields = {}
    for name, annotation in inspect.get_annotations(cls).items():
        text = annotation if isinstance(annotation, str) else repr(annotation)
        nested = [getattr(module, n) for n in re.findall(r"\b([A-Z]\w*Params\w*)\b", text) if hasattr(module, n)]
        fields[name] = ("NotRequired" not in text, nested)
    return fields


def _mismatches(schema: dict[str, Field], cls: Any, path: str) -> list[str]:
    theirs = _stripe_fields(cls)
    problems = []
    for name, field in schema.items():
        where = f"{path}[{name}]" if path else name
        if name not in theirs:
            problems.append(f"{cls.__name__}: {where} is not a Stripe parameter")
            continue
        required, nested = theirs[name]
        if field.required and not required:
            problems.append(f"{cls.__name__}: {where} is required here but optional in Stripe")
        inner = field.item if isinstance(field, Arr) else field
        if isinstance(inner, Hash) and not isinstance(inner, Metadata | Range):
            if not nested:
                problems.append(f"{cls.__name__}: {where} is a hash here but not in Stripe")
            else:
                problems.extend(_mismatches(dict(inner.schema), nested[0], where))
    for name, (required, _) in theirs.items():
        if required and name not in schema:
            problems.append(f"{cls.__name__}: Stripe requires {name}, which the simulator does not accept")
    return problems


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.pattern.pattern}")
def test_route_parameters_exist_in_stripe(route: Any) -> None:
    path = route.pattern.pattern.strip("^$").replace("([^/]+)", "{id}", 1).replace("([^/]+)", "{pm}")
    name = PARAMS_CLASS.get((route.method, path))
    assert name is not None, f"no stripe-python params class mapped for {route.method} {path}"
    problems = _mismatches(dict(route.schema), _params_class(name), "")
    assert not problems, "\n".join(problems)
