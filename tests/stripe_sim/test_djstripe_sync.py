"""dj-stripe 2.11 syncs what the simulator returns, for every object type PayOps mirrors.

dj-stripe looks the owner account up through GET /v1/account and re-retrieves
related objects (a charge's balance transaction, a price's product, a product's
features) through stripe-python's module-level client, which `stripe_api_base`
points at the simulator.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from djstripe import models

from payops.stripe_sim import StripeSimulator
from tests.stripe_fixtures import TEST_API_KEY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_api_base")]
PAY: dict[str, Any] = {"amount": 4200, "currency": "usd", "payment_method_types": ["card"], "confirm": True}


def sync(model: Any, data: Any) -> Any:
    return model.sync_from_stripe_data(data, api_key=TEST_API_KEY)


def test_customer(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    customer = stripe_client.v1.customers.create({"email": "sync@example.com", "name": "Sync", "metadata": {"k": "v"}})
    row = sync(models.Customer, customer)
    assert (row.id, row.email, row.name) == (customer.id, "sync@example.com", "Sync")
    assert row.stripe_data["metadata"] == {"k": "v"}
    assert row.djstripe_owner_account.id == stripe_sim.account_id


def test_payment_method(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    method = stripe_client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    row = sync(models.PaymentMethod, method)
    assert row.id == method.id and row.customer.id == customer.id
    assert row.stripe_data["card"]["last4"] == "4242"


def test_payment_intent_and_charge(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    intent = stripe_client.v1.payment_intents.create({**PAY, "customer": customer.id, "payment_method": "pm_card_visa"})
    row = sync(models.PaymentIntent, intent)
    assert row.id == intent.id and row.stripe_data["status"] == "succeeded"
    charge = sync(models.Charge, stripe_client.v1.charges.retrieve(str(intent.latest_charge)))
    assert charge.payment_intent.id == intent.id
    assert charge.balance_transaction is not None and charge.balance_transaction.stripe_data["fee"] == 152
    assert charge.stripe_data["outcome"]["type"] == "authorized"


def test_declined_payment_intent_keeps_its_error(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa_chargeDeclinedLostCard"})
    intent = stripe_client.v1.payment_intents.retrieve(caught.value.error.payment_intent.id)  # type: ignore[union-attr]
    row = sync(models.PaymentIntent, intent)
    assert row.stripe_data["last_payment_error"]["decline_code"] == "lost_card"
    assert (
        sync(models.Charge, stripe_client.v1.charges.retrieve(str(intent.latest_charge))).stripe_data["status"]
        == "failed"
    )


def test_refund(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa"})
    refund = stripe_client.v1.refunds.create({"payment_intent": intent.id, "amount": 1000})
    row = sync(models.Refund, refund)
    assert row.id == refund.id and row.charge.id == intent.latest_charge
    assert row.stripe_data["amount"] == 1000


def test_product_and_price(stripe_client: stripe.StripeClient) -> None:
    product = stripe_client.v1.products.create({"name": "Harbour kayak tour"})
    price = stripe_client.v1.prices.create(
        {"product": product.id, "unit_amount": 8900, "currency": "cad", "lookup_key": "kayak"}
    )
    assert sync(models.Product, product).name == "Harbour kayak tour"
    row = sync(models.Price, price)
    assert row.product.id == product.id and row.stripe_data["unit_amount"] == 8900


def test_dispute(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_createDispute"})
    dispute = stripe_client.v1.disputes.list({"payment_intent": intent.id}).data[0]
    row = sync(models.Dispute, dispute)
    assert row.id == dispute.id and row.stripe_data["reason"] == "fraudulent"


def test_setup_intent(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create()
    intent = stripe_client.v1.setup_intents.create(
        {"customer": customer.id, "payment_method": "pm_card_visa", "confirm": True, "payment_method_types": ["card"]}
    )
    row = sync(models.SetupIntent, intent)
    assert row.id == intent.id and row.stripe_data["status"] == "succeeded"


def test_balance_transaction(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create({**PAY, "payment_method": "pm_card_visa"})
    charge = stripe_client.v1.charges.retrieve(str(intent.latest_charge))
    transaction = stripe_client.v1.balance_transactions.retrieve(str(charge.balance_transaction))
    row = sync(models.BalanceTransaction, transaction)
    assert (row.amount, row.fee, row.net) == (4200, 152, 4048)


def test_event(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create({"email": "evt@example.com"})
    event = stripe_client.v1.events.list({"type": "customer.created"}).data[0]
    # As the inbox hands it over: the delivered JSON, a plain dict. (dj-stripe
    # reads `request` with isinstance(dict), which stripe-python 15's objects
    # are not; PostgreSQL then refuses the object's repr as a request id.)
    row = sync(models.Event, event.to_dict())
    assert row.id == event.id and row.type == "customer.created"
    assert row.request_id == event.to_dict()["request"]["id"] and row.request_id.startswith("req_")
