"""Fault injection: Stripe's 429 and 5xx bodies and headers, hangs past the client's timeout, scoping by path."""

from __future__ import annotations

import pytest
import stripe

from payops.stripe_sim import StripeSimulator


def test_429_then_success_with_stripe_pythons_retries(stripe_sim: StripeSimulator) -> None:
    stripe_sim.set_faults({"status": 429, "count": 1})
    client = stripe.StripeClient("sk_test_retry", base_addresses={"api": stripe_sim.url}, max_network_retries=2)
    assert client.v1.customers.create().object == "customer"
    assert stripe_sim.stats()["api_requests"]["by_status"] == {"429": 1, "200": 1}
    assert len(client.v1.customers.list().data) == 1


def test_429_body_and_headers(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    stripe_sim.set_faults({"status": 429, "count": 1})
    with pytest.raises(stripe.RateLimitError) as caught:
        stripe_client.v1.customers.list()
    error = caught.value
    assert error.http_status == 429
    assert error.json_body is not None and error.json_body["error"]["code"] == "rate_limit"
    assert error.headers is not None and error.headers["Stripe-Should-Retry"] == "true"
    assert error.request_id and error.request_id.startswith("req_")
    assert stripe_client.v1.customers.list().data == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_api_errors(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, status: int
) -> None:
    stripe_sim.set_faults({"status": status, "count": 1})
    with pytest.raises(stripe.APIError) as caught:
        stripe_client.v1.customers.create()
    assert caught.value.http_status == status
    assert caught.value.json_body is not None and caught.value.json_body["error"]["type"] == "api_error"
    assert stripe_client.v1.customers.list().data == []  # the failed call did nothing


def test_faults_can_target_one_path_and_method(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    stripe_sim.set_faults({"status": 503, "path_prefix": "/v1/refunds", "method": "POST"})
    stripe_client.v1.customers.create()
    assert stripe_client.v1.refunds.list().data == []
    with pytest.raises(stripe.APIError):
        stripe_client.v1.refunds.create({"payment_intent": "pi_x"})
    stripe_sim.clear_faults()
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.create({"payment_intent": "pi_x"})


def test_a_hang_past_the_timeout_then_a_retry_under_the_same_key(stripe_sim: StripeSimulator) -> None:
    stripe_sim.set_faults({"stall_seconds": 1.0, "count": 1, "path_prefix": "/v1/payment_intents"})
    impatient = stripe.StripeClient(
        "sk_test_hang",
        base_addresses={"api": stripe_sim.url},
        http_client=stripe.RequestsClient(timeout=0.3),
        max_network_retries=0,
    )
    params = {
        "amount": 1000,
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "payment_method_types": ["card"],
        "confirm": True,
    }
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.payment_intents.create(params, {"idempotency_key": "hang-1"})  # type: ignore[arg-type]
    patient = stripe.StripeClient("sk_test_hang", base_addresses={"api": stripe_sim.url}, max_network_retries=5)
    retried = patient.v1.payment_intents.create(params, {"idempotency_key": "hang-1"})  # type: ignore[arg-type]
    assert retried.status == "succeeded"
    assert len(patient.v1.payment_intents.list().data) == 1


def test_share_and_bad_rules(stripe_sim: StripeSimulator) -> None:
    rules = stripe_sim.set_faults({"status": 500, "share": 0.5, "seed": 3})
    assert rules[0]["share"] == 0.5
    with pytest.raises(ValueError):
        stripe_sim.set_faults({"status": 418})
    with pytest.raises(ValueError):
        stripe_sim.set_faults({"status": 500, "colour": "red"})


@pytest.mark.parametrize("status", [500, 502])
def test_an_answer_lost_after_the_write_and_the_retry_gets_the_stored_one(
    stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator, status: int
) -> None:
    stripe_sim.set_faults({"status": status, "count": 1, "after": True, "path_prefix": "/v1/customers"})
    with pytest.raises(stripe.APIError) as caught:
        stripe_client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "lost-1"})
    assert caught.value.http_status == status
    assert len(stripe_client.v1.customers.list().data) == 1  # the write happened all the same
    again = stripe_client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "lost-1"})
    assert again.last_response is not None and again.last_response.headers["Idempotent-Replayed"] == "true"
    assert [c.id for c in stripe_client.v1.customers.list().data] == [again.id]


def test_a_timeout_after_the_write(stripe_sim: StripeSimulator) -> None:
    stripe_sim.set_faults({"stall_seconds": 1.0, "count": 1, "after": True})
    impatient = stripe.StripeClient(
        "sk_test_late", base_addresses={"api": stripe_sim.url}, http_client=stripe.RequestsClient(timeout=0.3)
    )
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.customers.create({}, {"idempotency_key": "late-1", "max_network_retries": 0})
    # Already stored when the client gave up: no waiting for the stall to end.
    assert len(impatient.v1.customers.list().data) == 1


def test_a_429_can_say_when_to_come_back(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    stripe_sim.set_faults({"status": 429, "count": 1, "retry_after": 2})
    with pytest.raises(stripe.RateLimitError) as caught:
        stripe_client.v1.customers.list()
    assert caught.value.headers is not None and caught.value.headers["Retry-After"] == "2"
    with pytest.raises(ValueError):
        stripe_sim.set_faults({"stall_seconds": 1, "retry_after": 2})
    with pytest.raises(ValueError):
        stripe_sim.set_faults({"status": 500, "after": "yes"})
