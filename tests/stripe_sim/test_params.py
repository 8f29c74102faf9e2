"""Strict parameters: Stripe's 400s for unknown, missing, empty and malformed values, amounts and metadata."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

PI = {"amount": 1000, "currency": "usd", "payment_method_types": ["card"]}


def refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        call()
    assert caught.value.http_status == 400
    return caught.value


def test_unknown_parameter(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "amonut": 5}))  # type: ignore[typeddict-unknown-key]
    assert error.code == "parameter_unknown"
    assert error.param == "amonut"
    assert error.user_message == "Received unknown parameter: amonut"


def test_unknown_nested_parameter(stripe_client: stripe.StripeClient) -> None:
    error = refused(
        lambda: stripe_client.v1.payment_methods.create(
            {"type": "card", "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2040, "zip": "1"}}  # type: ignore[typeddict-unknown-key]
        )
    )
    assert (error.code, error.param) == ("parameter_unknown", "card[zip]")


def test_missing_required_parameter(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({"amount": 1000}))  # type: ignore[typeddict-item]
    assert (error.code, error.param) == ("parameter_missing", "currency")
    assert error.user_message == "Missing required param: currency."


def test_invalid_integer(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "amount": "ten"}))  # type: ignore[typeddict-item]
    assert (error.code, error.param) == ("parameter_invalid_integer", "amount")


def test_empty_string_for_a_required_parameter(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "currency": ""}))
    assert (error.code, error.param) == ("parameter_invalid_empty", "currency")


@pytest.mark.parametrize(
    ("amount", "currency", "minimum"),
    [(49, "usd", "$0.50"), (29, "gbp", "£0.30"), (49, "eur", "€0.50"), (49, "cad", "$0.50")],
)
def test_amount_below_the_currency_minimum(
    stripe_client: stripe.StripeClient, amount: int, currency: str, minimum: str
) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "amount": amount, "currency": currency}))
    assert (error.code, error.param) == ("amount_too_small", "amount")
    assert error.user_message == f"Amount must be at least {minimum} {currency}"


def test_the_minimum_itself_is_accepted(stripe_client: stripe.StripeClient) -> None:
    assert stripe_client.v1.payment_intents.create({**PI, "amount": 30, "currency": "gbp"}).amount == 30


def test_amount_above_the_maximum(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "amount": 100_000_000}))
    assert error.code == "amount_too_large"


def test_unsupported_currency(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "currency": "xyz"}))
    assert error.param == "currency"
    assert error.user_message is not None and error.user_message.startswith("Invalid currency: xyz.")


def test_uppercase_currency_is_taken_lowercase(stripe_client: stripe.StripeClient) -> None:
    assert stripe_client.v1.payment_intents.create({**PI, "currency": "EUR"}).currency == "eur"


def test_invalid_enum_value(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "capture_method": "later"}))  # type: ignore[typeddict-item]
    assert error.param == "capture_method"
    assert error.user_message == "Invalid capture_method: must be one of automatic, automatic_async, or manual"


def test_invalid_boolean(stripe_client: stripe.StripeClient) -> None:
    error = refused(lambda: stripe_client.v1.payment_intents.create({**PI, "confirm": "yes"}))  # type: ignore[typeddict-item]
    assert error.param == "confirm"


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"k{i}": "v" for i in range(51)}, "metadata"),
        ({"k" * 41: "v"}, "metadata[" + "k" * 41 + "]"),
        ({"key": "v" * 501}, "metadata[key]"),
    ],
)
def test_metadata_limits(stripe_client: stripe.StripeClient, metadata: dict[str, str], param: str) -> None:
    error = refused(lambda: stripe_client.v1.customers.create({"metadata": metadata}))
    assert error.param == param


def test_metadata_at_the_limits_is_accepted(stripe_client: stripe.StripeClient) -> None:
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)}
    assert len(stripe_client.v1.customers.create({"metadata": metadata}).metadata.to_dict()) == 50


def test_metadata_update_merges_and_empty_value_deletes(stripe_client: stripe.StripeClient) -> None:
    customer = stripe_client.v1.customers.create({"metadata": {"a": "1", "b": "2"}})
    updated = stripe_client.v1.customers.update(customer.id, {"metadata": {"a": "", "c": "3"}})
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}


def test_exclusive_parameters(stripe_client: stripe.StripeClient) -> None:
    error = refused(
        lambda: stripe_client.v1.payment_intents.create({**PI, "automatic_payment_methods": {"enabled": True}})
    )
    assert error.code == "parameters_exclusive"


def test_list_limit_range(stripe_client: stripe.StripeClient) -> None:
    assert refused(lambda: stripe_client.v1.customers.list({"limit": 101})).param == "limit"
    assert refused(lambda: stripe_client.v1.customers.list({"limit": 0})).param == "limit"


def test_bad_expand_is_refused(stripe_client: stripe.StripeClient) -> None:
    intent = stripe_client.v1.payment_intents.create(PI)
    error = refused(lambda: stripe_client.v1.payment_intents.retrieve(intent.id, {"expand": ["amount"]}))
    assert error.user_message == "This property cannot be expanded (amount)."
    assert refused(lambda: stripe_client.v1.payment_intents.retrieve(intent.id, {"expand": ["nothing"]}))
