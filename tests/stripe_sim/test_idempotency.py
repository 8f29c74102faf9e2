"""Idempotency-Key: one object per key, replays marked, conflicts refused, safe under concurrency."""

from __future__ import annotations

import threading

import pytest
import stripe

from payops.stripe_sim import StripeSimulator

PI = {
    "amount": 2500,
    "currency": "usd",
    "payment_method_types": ["card"],
    "payment_method": "pm_card_visa",
    "confirm": True,
}


def count(client: stripe.StripeClient, kind: str) -> int:
    return len(getattr(client.v1, kind).list({"limit": 100}).data)


def test_same_key_and_params_replay_the_first_answer(stripe_client: stripe.StripeClient) -> None:
    first = stripe_client.v1.payment_intents.create(PI, {"idempotency_key": "order-1"})
    second = stripe_client.v1.payment_intents.create(PI, {"idempotency_key": "order-1"})
    assert first.id == second.id
    assert count(stripe_client, "payment_intents") == 1
    assert count(stripe_client, "charges") == 1
    assert first.last_response is not None and second.last_response is not None
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert second.last_response.headers["Original-Request"] == first.last_response.request_id
    assert second.last_response.headers["Idempotency-Key"] == "order-1"


def test_same_key_with_other_params_is_an_idempotency_error(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        stripe_client.v1.customers.create({"email": "b@example.com"}, {"idempotency_key": "k1"})
    assert caught.value.http_status == 400
    assert "same parameters" in str(caught.value.user_message)
    assert count(stripe_client, "customers") == 1


def test_same_key_on_another_endpoint_is_an_idempotency_error(stripe_client: stripe.StripeClient) -> None:
    stripe_client.v1.customers.create({}, {"idempotency_key": "k2"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        stripe_client.v1.products.create({"name": "Tour"}, {"idempotency_key": "k2"})  # type: ignore[typeddict-item]
    assert "same endpoint" in str(caught.value.user_message)


def test_a_decline_is_replayed_not_retried(stripe_client: stripe.StripeClient) -> None:
    declined = {**PI, "payment_method": "pm_card_visa_chargeDeclined"}
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.CardError) as caught:
            stripe_client.v1.payment_intents.create(declined, {"idempotency_key": "declined-1"})
        errors.append(caught.value)
    assert errors[0].error is not None and errors[1].error is not None
    assert errors[0].error.payment_intent.id == errors[1].error.payment_intent.id  # type: ignore[union-attr]
    assert errors[1].headers is not None and errors[1].headers["Idempotent-Replayed"] == "true"
    assert count(stripe_client, "charges") == 1


def test_a_validation_error_is_not_stored(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.create({"email": "not-an-email"}, {"idempotency_key": "k3"})
    fixed = stripe_client.v1.customers.create({"email": "ok@example.com"}, {"idempotency_key": "k3"})
    assert fixed.email == "ok@example.com"


def test_keys_expire_after_24_hours(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    first = stripe_client.v1.customers.create({}, {"idempotency_key": "k4"})
    stripe_sim.advance_clock(24 * 3600 + 1)
    again = stripe_client.v1.customers.create({}, {"idempotency_key": "k4"})
    assert again.id != first.id


def test_concurrent_requests_with_one_key_make_one_object(stripe_sim: StripeSimulator) -> None:
    stripe_sim.set_faults({"stall_seconds": 0.2, "count": 1, "path_prefix": "/v1/payment_intents"})
    results: list[str] = []
    conflicts: list[int] = []

    def pay() -> None:
        client = stripe.StripeClient(
            "sk_test_concurrent", base_addresses={"api": stripe_sim.url}, max_network_retries=0
        )
        try:
            results.append(client.v1.payment_intents.create(PI, {"idempotency_key": "same-key"}).id)
        except stripe.APIError as error:
            conflicts.append(error.http_status or 0)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = stripe.StripeClient("sk_test_concurrent", base_addresses={"api": stripe_sim.url})
    assert len(client.v1.payment_intents.list().data) == 1
    assert len(set(results)) == 1
    assert set(conflicts) <= {409}
    assert len(results) + len(conflicts) == 8


def test_a_409_in_use_tells_the_client_to_retry(stripe_sim: StripeSimulator) -> None:
    with stripe_sim.idempotency.reserve("held-key"):
        client = stripe.StripeClient("sk_test_x", base_addresses={"api": stripe_sim.url}, max_network_retries=0)
        with pytest.raises(stripe.APIError) as caught:
            client.v1.customers.create({}, {"idempotency_key": "held-key"})
    assert caught.value.http_status == 409
    assert caught.value.json_body is not None and caught.value.json_body["error"]["code"] == "idempotency_key_in_use"
    assert caught.value.headers is not None and caught.value.headers["Stripe-Should-Retry"] == "true"
    retrying = stripe.StripeClient("sk_test_x", base_addresses={"api": stripe_sim.url}, max_network_retries=2)
    assert retrying.v1.customers.create({}, {"idempotency_key": "held-key"}).object == "customer"
