"""The Stripe webhook endpoint: verification, storage once, and every bad-input case."""

from __future__ import annotations

import time
from typing import Any

import pytest

from payops.models import EventStatus, InboundEvent
from tests.webhook_payloads import signed_headers, stripe_event

pytestmark = pytest.mark.django_db


def test_signed_event_is_stored_and_acknowledged(post_stripe: Any) -> None:
    body = stripe_event("evt_1", "payment_intent.succeeded")
    response = post_stripe(body, **signed_headers(body))
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    event = InboundEvent.objects.get()
    assert (event.source, event.event_id, event.event_type) == ("stripe", "evt_1", "payment_intent.succeeded")
    assert event.payload["data"]["object"]["id"] == "pi_test_1"
    assert event.trace_id == response.json()["trace_id"]


def test_duplicate_delivery_is_acknowledged_and_stored_once(post_stripe: Any) -> None:
    body = stripe_event("evt_dup")
    first = post_stripe(body, **signed_headers(body))
    second = post_stripe(body, **signed_headers(body))
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert InboundEvent.objects.count() == 1


def test_same_event_id_from_another_source_is_a_different_event() -> None:
    InboundEvent.objects.create(source="checkfront", event_id="evt_same", event_type="x", payload={}, trace_id="t")
    InboundEvent.objects.create(source="stripe", event_id="evt_same", event_type="x", payload={}, trace_id="t")
    assert InboundEvent.objects.filter(event_id="evt_same").count() == 2


def test_the_request_only_stores_and_the_dispatcher_sends_it_on(
    post_stripe: Any, recorded_handler: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    from payops.inbox_dispatcher import dispatch_pending

    body = stripe_event("evt_handled", "test.recorded")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_stripe(body, **signed_headers(body))
    assert response.status_code == 200
    assert callbacks == []  # nothing is published inside the webhook request
    event = InboundEvent.objects.get()
    assert (event.status, event.queued_at) == (EventStatus.RECEIVED, None)
    assert dispatch_pending() == 1
    assert dispatch_pending() == 0
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED and event.queued_at is not None
    assert recorded_handler == [event.pk]


def test_secrets_being_rotated_both_verify(settings: Any, post_stripe: Any) -> None:
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_old", "whsec_new"]
    for n, secret in enumerate(["whsec_old", "whsec_new"]):
        body = stripe_event(f"evt_rot_{n}")
        assert post_stripe(body, **signed_headers(body, secret=secret)).status_code == 200
    assert InboundEvent.objects.count() == 2


def test_header_with_several_v1_signatures_verifies_if_one_matches(post_stripe: Any) -> None:
    body = stripe_event("evt_multi")
    good = signed_headers(body)["HTTP_STRIPE_SIGNATURE"]
    ts, v1 = good.split(",")
    response = post_stripe(body, HTTP_STRIPE_SIGNATURE=f"{ts},v1={'0' * 64},{v1},v0=ignored")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 400, "missing Stripe-Signature header"),
        ({"HTTP_STRIPE_SIGNATURE": "v1=abc"}, 400, "no timestamp"),
        ({"HTTP_STRIPE_SIGNATURE": "t=soon,v1=abc"}, 400, "timestamp is not a number"),
        ({"HTTP_STRIPE_SIGNATURE": "t={now}"}, 400, "no v1 signature"),
        ({"HTTP_STRIPE_SIGNATURE": "t={now},v1=" + "a" * 64}, 401, "no Stripe-Signature v1 signature"),
    ],
)
def test_bad_signature_headers_are_rejected_and_nothing_stored(
    post_stripe: Any, headers: dict[str, str], status: int, reason: str
) -> None:
    # "now" when the test runs, not when it was collected: a long suite would make it stale.
    headers = {k: v.replace("{now}", str(int(time.time()))) for k, v in headers.items()}
    response = post_stripe(stripe_event("evt_bad"), **headers)
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_signature_from_an_unknown_secret_is_rejected(post_stripe: Any) -> None:
    body = stripe_event("evt_foreign")
    response = post_stripe(body, **signed_headers(body, secret="whsec_someone_else"))
    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


def test_body_changed_after_signing_is_rejected(post_stripe: Any) -> None:
    body = stripe_event("evt_tamper", amount=100)
    headers = signed_headers(body)
    response = post_stripe(body.replace(b'"amount": 100', b'"amount": 99999'), **headers)
    assert response.status_code == 401
    assert not InboundEvent.objects.exists()


# A minute past the 300 s tolerance: a loaded machine may take a second or two between signing and checking.
@pytest.mark.parametrize("age", [360, -360, 86_400])
def test_timestamp_outside_tolerance_is_rejected(post_stripe: Any, age: int) -> None:
    body = stripe_event("evt_stale")
    response = post_stripe(body, **signed_headers(body, timestamp=int(time.time()) - age))
    assert response.status_code == 401
    assert "from now" in response.json()["error"]
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"type": "charge.succeeded"}', "field 'id'"),
        (b'{"id": "evt_x"}', "field 'type'"),
        (b'{"id": 12, "type": "charge.succeeded"}', "field 'id'"),
        (b'{"id": "", "type": "charge.succeeded"}', "field 'id'"),
        (('{"id": "' + "e" * 300 + '", "type": "x"}').encode(), "longer than 255"),
    ],
)
def test_malformed_events_with_valid_signatures_are_rejected(post_stripe: Any, body: bytes, reason: str) -> None:
    response = post_stripe(body, **signed_headers(body))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_oversized_body_is_rejected_before_verification(settings: Any, post_stripe: Any) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 2048
    body = stripe_event("evt_big", padding="x" * 4096)
    response = post_stripe(body, **signed_headers(body))
    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


def test_unknown_source_is_not_found(client: Any) -> None:
    body = stripe_event("evt_where")
    response = client.post("/webhooks/paypal/", data=body, content_type="application/json", **signed_headers(body))
    assert response.status_code == 404
    assert "unknown webhook source" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_get_is_refused_with_a_reason(client: Any) -> None:
    response = client.get("/webhooks/stripe/")
    assert response.status_code == 405
    assert "POST" in response.json()["error"]


def test_without_configured_secrets_every_delivery_is_refused(settings: Any, post_stripe: Any) -> None:
    settings.STRIPE_WEBHOOK_SECRETS = []
    body = stripe_event("evt_unconfigured")
    response = post_stripe(body, **signed_headers(body))
    assert response.status_code == 503
    assert not InboundEvent.objects.exists()


def test_stripe_endpoint_takes_no_url_token(client: Any) -> None:
    body = stripe_event("evt_token")
    response = client.post(
        "/webhooks/stripe/some-token/", data=body, content_type="application/json", **signed_headers(body)
    )
    assert response.status_code == 404
    assert not InboundEvent.objects.exists()


def test_webhooks_need_no_login_and_no_csrf_token(post_stripe: Any, client: Any) -> None:
    client.handler.enforce_csrf_checks = True
    body = stripe_event("evt_anon")
    assert post_stripe(body, **signed_headers(body)).status_code == 200


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("t={now},v1=ü" + "a" * 63, 400),
        ("t=1" + "0" * 400 + ",v1=" + "a" * 64, 400),
        ("t={now},v1=" + "A" * 64, 400),
        ("t=-{now},v1=" + "a" * 64, 400),
    ],
)
def test_hostile_signature_headers_get_4xx_not_500(post_stripe: Any, header: str, status: int) -> None:
    header = header.replace("{now}", str(int(time.time())))  # when the test runs, not when it was collected
    response = post_stripe(stripe_event("evt_hostile"), HTTP_STRIPE_SIGNATURE=header)
    assert response.status_code == status
    assert response.json()["error"]
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt_nan", "type": "x", "amount": NaN}',
        b'{"id": "evt_inf", "type": "x", "amount": 1e999}',
        b'{"id": "evt_deep", "type": "x", "d": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"id": "evt_\\u0000nul", "type": "x"}',
        b'{"id": "evt_ok", "type": "charge.\\u0007bell"}',
    ],
)
def test_signed_but_hostile_bodies_get_400_not_500(settings: Any, post_stripe: Any, body: bytes) -> None:
    settings.WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
    response = post_stripe(body, **signed_headers(body))
    assert response.status_code == 400
    assert not InboundEvent.objects.exists()


def test_a_content_length_that_is_not_ascii_digits_is_refused(client: Any) -> None:
    body = stripe_event("evt_len")
    response = client.generic(
        "POST", "/webhooks/stripe/", body, content_type="application/json", CONTENT_LENGTH="²", **signed_headers(body)
    )
    assert response.status_code == 400
    assert not InboundEvent.objects.exists()
