"""Products and prices: creation, product_data, recurring, lookup keys, updates and list filters."""

from __future__ import annotations

import pytest
import stripe


def test_product_and_one_time_price(stripe_client: stripe.StripeClient) -> None:
    product = stripe_client.v1.products.create({"name": "Kayak tour", "metadata": {"sku": "kayak"}})
    assert product.id.startswith("prod_") and product.active is True and product.default_price is None
    price = stripe_client.v1.prices.create(
        {"product": product.id, "unit_amount": 8900, "currency": "cad", "nickname": "Adult"}
    )
    assert (price.type, price.unit_amount, str(price.unit_amount_decimal), price.recurring) == (
        "one_time",
        8900,
        "8900",
        None,
    )
    expanded = stripe_client.v1.prices.retrieve(price.id, {"expand": ["product"]})
    assert expanded.product.name == "Kayak tour"  # type: ignore[union-attr]


def test_recurring_price_with_product_data(stripe_client: stripe.StripeClient) -> None:
    price = stripe_client.v1.prices.create(
        {
            "product_data": {"name": "Membership"},
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    assert price.type == "recurring" and price.recurring is not None
    assert (price.recurring.interval, price.recurring.interval_count) == ("month", 1)
    assert stripe_client.v1.products.retrieve(str(price.product)).name == "Membership"


def test_price_needs_a_product(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.prices.create({"unit_amount": 100, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.prices.create({"product": "prod_nope", "unit_amount": 100, "currency": "usd"})
    assert missing.value.http_status == 404


def test_lookup_keys_are_unique_unless_transferred(stripe_client: stripe.StripeClient) -> None:
    product = stripe_client.v1.products.create({"name": "Tour"})
    old = stripe_client.v1.prices.create(
        {"product": product.id, "unit_amount": 100, "currency": "usd", "lookup_key": "tour"}
    )
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.prices.create(
            {"product": product.id, "unit_amount": 200, "currency": "usd", "lookup_key": "tour"}
        )
    assert caught.value.param == "lookup_key"
    new = stripe_client.v1.prices.create(
        {
            "product": product.id,
            "unit_amount": 200,
            "currency": "usd",
            "lookup_key": "tour",
            "transfer_lookup_key": True,
        }
    )
    assert stripe_client.v1.prices.retrieve(old.id).lookup_key is None
    assert [p.id for p in stripe_client.v1.prices.list({"lookup_keys": ["tour"]}).data] == [new.id]


def test_price_amount_cannot_change(stripe_client: stripe.StripeClient) -> None:
    price = stripe_client.v1.prices.create({"product_data": {"name": "X"}, "unit_amount": 100, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.prices.update(price.id, {"unit_amount": 200})  # type: ignore[typeddict-unknown-key]
    assert caught.value.code == "parameter_unknown"
    archived = stripe_client.v1.prices.update(price.id, {"active": False, "nickname": "old"})
    assert (archived.active, archived.nickname) == (False, "old")
    assert stripe_client.v1.prices.list({"active": True}).data == []


def test_product_update_default_price_and_list(stripe_client: stripe.StripeClient) -> None:
    product = stripe_client.v1.products.create(
        {"name": "Tour", "default_price_data": {"currency": "usd", "unit_amount": 500}}
    )
    assert product.default_price is not None
    renamed = stripe_client.v1.products.update(product.id, {"name": "Sunset tour", "active": False})
    assert (renamed.name, renamed.active) == ("Sunset tour", False)
    assert stripe_client.v1.products.list({"active": False}).data[0].id == product.id
    event = stripe_client.v1.events.list({"type": "product.updated"}).data[0]
    assert event.data.previous_attributes["name"] == "Tour"  # type: ignore[index]
    assert stripe_client.v1.products.features.list(product.id).data == []


def test_product_with_prices_cannot_be_deleted(stripe_client: stripe.StripeClient) -> None:
    lonely = stripe_client.v1.products.create({"name": "Lonely"})
    assert stripe_client.v1.products.delete(lonely.id).deleted is True
    priced = stripe_client.v1.products.create(
        {"name": "Priced", "default_price_data": {"currency": "usd", "unit_amount": 500}}
    )
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.products.delete(priced.id)
