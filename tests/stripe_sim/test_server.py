"""The HTTP front: API keys, Stripe-shaped errors, Request-Id, unknown URLs, the loopback control API."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import stripe

from payops.stripe_sim import StripeSimulator


def call(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback test server
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_missing_key_is_a_stripe_401(stripe_sim: StripeSimulator) -> None:
    status, headers, body = call(f"{stripe_sim.url}/v1/customers")
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in body["error"]["message"]
    assert headers["Request-Id"].startswith("req_")


@pytest.mark.parametrize("key", ["sk_live_abcdefghijklmnopqrstuvwx", "nonsense", "sk_test_"])
def test_live_and_malformed_keys_are_refused(stripe_sim: StripeSimulator, key: str) -> None:
    client = stripe.StripeClient(key, base_addresses={"api": stripe_sim.url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as caught:
        client.v1.customers.list()
    assert caught.value.http_status == 401
    assert "Invalid API Key provided" in str(caught.value.user_message)
    assert key not in str(caught.value.user_message) or len(key) <= 12


def test_publishable_key_is_refused(stripe_sim: StripeSimulator) -> None:
    status, _, body = call(f"{stripe_sim.url}/v1/customers", headers={"Authorization": "Bearer pk_test_abc123"})
    assert status == 401
    assert "publishable API key" in body["error"]["message"]


def test_basic_auth_with_the_key_as_user_name_works(stripe_sim: StripeSimulator) -> None:
    token = base64.b64encode(b"sk_test_localstripe0000000000000000:").decode()
    status, _, body = call(f"{stripe_sim.url}/v1/customers", headers={"Authorization": f"Basic {token}"})
    assert status == 200
    assert body == {"object": "list", "data": [], "has_more": False, "url": "/v1/customers"}


def test_restricted_test_keys_work(stripe_sim: StripeSimulator) -> None:
    client = stripe.StripeClient("rk_test_restricted000000000000000", base_addresses={"api": stripe_sim.url})
    assert client.v1.customers.create().object == "customer"


def test_an_allow_list_of_keys_refuses_others(tmp_path: Path) -> None:
    with StripeSimulator(tmp_path / "s.sqlite3", api_keys=["sk_test_onlythisone"]) as sim:
        good = stripe.StripeClient("sk_test_onlythisone", base_addresses={"api": sim.url}, max_network_retries=0)
        bad = stripe.StripeClient("sk_test_someoneelse", base_addresses={"api": sim.url}, max_network_retries=0)
        assert good.v1.customers.list().data == []
        with pytest.raises(stripe.AuthenticationError):
            bad.v1.customers.list()


def test_unknown_url_is_stripes_404(stripe_client: stripe.StripeClient, stripe_sim: StripeSimulator) -> None:
    status, headers, body = call(
        f"{stripe_sim.url}/v1/nonexistent", headers={"Authorization": "Bearer sk_test_localstripe0000000000000000"}
    )
    assert status == 404
    assert body["error"]["message"].startswith("Unrecognized request URL (GET: /v1/nonexistent)")
    assert headers["Request-Id"].startswith("req_")


def test_missing_object_is_resource_missing(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        stripe_client.v1.payment_intents.retrieve("pi_doesnotexist")
    error = caught.value
    assert error.http_status == 404
    assert error.code == "resource_missing"
    assert error.param == "id"
    assert error.user_message == "No such payment_intent: 'pi_doesnotexist'"
    assert error.error is not None and error.error.doc_url == "https://stripe.com/docs/error-codes/resource-missing"
    assert error.request_id and error.request_id.startswith("req_")


def test_every_answer_has_a_distinct_request_id(stripe_client: stripe.StripeClient) -> None:
    first = stripe_client.v1.customers.create()
    second = stripe_client.v1.customers.retrieve(first.id)
    assert first.last_response is not None and second.last_response is not None
    assert first.last_response.request_id != second.last_response.request_id


def test_another_account_header_is_refused(stripe_sim: StripeSimulator) -> None:
    status, _, body = call(
        f"{stripe_sim.url}/v1/customers",
        headers={"Authorization": "Bearer sk_test_localstripe0000000000000000", "Stripe-Account": "acct_other"},
    )
    assert status == 403
    assert body["error"]["code"] == "account_invalid"


def test_control_api_answers_json(stripe_sim: StripeSimulator) -> None:
    status, _, body = call(f"{stripe_sim.url}/_sim/stats")
    assert status == 200
    assert body["account"] == stripe_sim.account_id
    status, _, body = call(f"{stripe_sim.url}/_sim/nothing-here", method="POST", data=b"{}")
    assert status == 404


def test_the_account_is_served_and_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "keep.sqlite3"
    with StripeSimulator(db) as sim:
        client = stripe.StripeClient("sk_test_abc", base_addresses={"api": sim.url})
        account = client.v1.accounts.retrieve_current()
        customer = client.v1.customers.create({"email": "kept@example.com"})
    with StripeSimulator(db) as sim:
        client = stripe.StripeClient("sk_test_abc", base_addresses={"api": sim.url})
        assert client.v1.accounts.retrieve_current().id == account.id
        assert client.v1.customers.retrieve(customer.id).email == "kept@example.com"
    assert account.id.startswith("acct_") and account.charges_enabled and account.country == "US"


def test_starting_a_simulator_is_cheap(tmp_path: Path) -> None:
    started = time.perf_counter()
    with StripeSimulator(tmp_path / "fast.sqlite3") as sim:
        assert sim.port > 0
    assert time.perf_counter() - started < 1.0


def test_the_control_api_refuses_browsers_and_only_the_api_allows_cross_origin_reads(
    stripe_sim: StripeSimulator,
) -> None:
    status, headers, body = call(
        f"{stripe_sim.url}/_sim/reset", method="POST", headers={"Origin": "https://evil.example"}, data=b""
    )
    assert status == 403 and "browsers" in body["error"]
    status, headers, _ = call(f"{stripe_sim.url}/_sim/stats")
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    _, headers, _ = call(f"{stripe_sim.url}/v1/account", headers={"Authorization": "Bearer sk_test_" + "a" * 24})
    assert headers.get("Access-Control-Allow-Origin") == "*"


@pytest.mark.parametrize("interval", ["nan", "inf", "-1", "0"])
def test_an_activity_interval_that_is_not_a_positive_finite_number_is_refused(
    stripe_sim: StripeSimulator, interval: str
) -> None:
    status, _, body = call(
        f"{stripe_sim.url}/_sim/activity",
        method="POST",
        headers={"Content-Type": "application/json"},
        data=('{"interval": ' + {"nan": "NaN", "inf": "Infinity"}.get(interval, interval) + "}").encode(),
    )
    assert status == 400 and "positive, finite" in body["error"]
    assert stripe_sim.stats()["activity"]["running"] is False
