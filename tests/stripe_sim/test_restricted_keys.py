"""Restricted keys: a registered rk_test_ key makes only the calls its permissions allow, as Stripe does."""

from __future__ import annotations

import urllib.error

import pytest
import stripe

from payops.stripe_sim import StripeSimulator
from payops.stripe_sim.restricted_keys import normalise, required_permission
from tests.stripe_fixtures import control

KEY = "rk_test_onlycustomersandcharges00000000"


def client_for(sim: StripeSimulator, key: str = KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": sim.url}, max_network_retries=0)


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("GET", "/v1/charges/ch_1", "rak_charge_read"),
        ("POST", "/v1/refunds", "rak_refund_write"),
        ("POST", "/v1/prices", "rak_plan_write"),
        ("GET", "/v1/balance/history", "rak_balance_transaction_source_read"),
        ("GET", "/v1/customers/cus_1/payment_methods", "rak_payment_method_read"),
        ("GET", "/v1/account", "rak_accounts_kyc_basic_read"),
        ("POST", "/v1/webhook_endpoints", "rak_webhook_write"),
        ("GET", "/v1/nothing_here", None),
    ],
)
def test_each_call_needs_the_permission_stripe_names(method: str, path: str, permission: str | None) -> None:
    assert required_permission(method, path) == permission


def test_write_includes_read_and_a_missing_permission_is_a_403_naming_it(stripe_sim: StripeSimulator) -> None:
    stripe_sim.add_restricted_key(KEY, ["rak_customer_write", "rak_charge_read"])
    client = client_for(stripe_sim)
    customer = client.v1.customers.create({"email": "rk@example.com"})
    assert client.v1.customers.retrieve(customer.id).email == "rk@example.com"
    with pytest.raises(stripe.PermissionError) as caught:
        client.v1.payment_intents.create({"amount": 1000, "currency": "usd", "payment_method_types": ["card"]})
    assert caught.value.http_status == 403
    assert "'rak_payment_intent_write' permission would allow this request" in str(caught.value.user_message)
    assert stripe_sim.stats()["objects"].get("payment_intent", 0) == 0


def test_an_unregistered_restricted_key_keeps_full_access(stripe_sim: StripeSimulator) -> None:
    client = client_for(stripe_sim, "rk_test_notregisteredanywhere000000000")
    assert client.v1.payment_intents.create({"amount": 1000, "currency": "usd", "payment_method_types": ["card"]}).id


def test_keys_and_permissions_are_checked_when_registered(stripe_sim: StripeSimulator) -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        normalise(["rak_everything_write"])
    with pytest.raises(ValueError, match="rk_test_"):
        stripe_sim.add_restricted_key("sk_test_notrestricted0000000000000000", ["rak_charge_read"])
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(stripe_sim, "restricted_keys", {"key": KEY, "permissions": ["charge_read"]})
    assert caught.value.code == 400
    answer = control(stripe_sim, "restricted_keys", {"key": KEY, "permissions": ["rak_dispute_write"]})
    assert answer == {"key": KEY, "permissions": ["rak_dispute_write"]}
