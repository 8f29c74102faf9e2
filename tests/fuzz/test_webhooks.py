"""Fuzzing the webhook endpoints: whatever arrives, the answer is a 2xx or a 4xx with a reason, never a 500.

There is no OpenAPI schema to hand schemathesis (the endpoints are webhooks),
so these are hypothesis properties over the real URLs. Each example checks:
a refusal says why and leaves every table as it was; an acceptance stores
the event once, exactly as sent. Run on SQLite and PostgreSQL: NUL and lone
surrogates in JSON, NaN and huge numbers only fail on one or the other.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from django.db import connection
from hypothesis import example, given
from hypothesis import strategies as st

from payops.event_processing import process_event
from payops.models import EventStatus, InboundEvent
from payops.webhook_verifiers import stripe_signature
from tests.fuzz.strategies import ANY_TEXT, HUGE_NUMBERS, JSON_VALUES, NUMBERS, SCALARS, fuzz, row_counts
from tests.stripe_fixtures import stripe_api_base, stripe_client, stripe_sim
from tests.webhook_payloads import TEST_SECRET, signed_headers, stripe_event

__all__ = ["stripe_api_base", "stripe_client", "stripe_sim"]

TOKEN = "checkfront-token-for-the-fuzz-tests-00001"


@pytest.fixture(autouse=True)
def _tokens(settings: Any) -> None:
    settings.CHECKFRONT_WEBHOOK_TOKENS = [TOKEN]


def assert_refused(response: Any, before: dict[str, int], statuses: tuple[int, ...] = (400,)) -> None:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response.json()["error"].strip()
    assert row_counts() == before


CURRENCIES = st.one_of(st.sampled_from(["usd", "USD", "eur", "xxx", "zzz", "", "us", "usdd", "jpy", "bhd"]), ANY_TEXT)
AMOUNTS = st.one_of(HUGE_NUMBERS, st.sampled_from(["100", "-1", "1e309", "NaN", ""]), st.none())


def json_body(value: Any) -> bytes:
    # allow_nan: NaN and Infinity go out as JSON's non-standard words, as a careless sender writes them.
    return json.dumps(value, allow_nan=True).encode()


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"d": [value]}
    return value


# ---- Stripe ---------------------------------------------------------------------------------------------------

FRESH = "<a fresh event id>"


@st.composite
def stripe_events(draw: st.DrawFn) -> dict[str, Any]:
    """Stripe-shaped events with any part missing, of the wrong type, huge, or full of odd text."""
    obj: dict[str, Any] = {
        "id": draw(st.one_of(st.just("pi_fuzz_1"), ANY_TEXT, NUMBERS, st.none())),
        "object": draw(st.sampled_from(["payment_intent", "charge", "refund", "dispute", "spaceship", "", 7])),
        "amount": draw(AMOUNTS),
        "currency": draw(CURRENCIES),
        "metadata": draw(st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=3)),
    }
    event: dict[str, Any] = {
        "id": draw(st.one_of(st.just(FRESH), st.just(FRESH), ANY_TEXT, NUMBERS, st.none())),
        "object": "event",
        "type": draw(st.one_of(st.sampled_from(["payment_intent.succeeded", "charge.refunded", "no.such"]), ANY_TEXT)),
        "created": draw(st.one_of(st.just(int(time.time())), NUMBERS, ANY_TEXT, st.none())),
        "livemode": draw(st.one_of(st.just(False), SCALARS)),
        "data": draw(st.one_of(st.just({"object": obj}), JSON_VALUES.map(lambda v: {"object": v}), JSON_VALUES)),
        "extra": draw(JSON_VALUES),
    }
    for key in draw(st.sets(st.sampled_from(["id", "type", "created", "livemode", "data", "extra"]))):
        del event[key]  # missing fields
    return event


@pytest.mark.django_db
@fuzz
@given(event=stripe_events())
def test_signed_stripe_events_of_any_shape_are_stored_as_sent_or_refused_with_a_reason(
    client: Any, event: dict[str, Any]
) -> None:
    if event.get("id") == FRESH:
        event["id"] = f"evt_fuzz_{uuid.uuid4().hex}"
    body = json_body(event)
    before = row_counts()
    response = client.post("/webhooks/stripe/", data=body, content_type="application/json", **signed_headers(body))
    if response.status_code == 400:
        assert_refused(response, before)
        return
    assert response.status_code == 200, response.content[:300]
    stored = InboundEvent.objects.get(source="stripe", event_id=event["id"])
    assert stored.payload == event
    assert isinstance(event["data"]["object"], dict) and isinstance(event["created"], int)
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in event["data"]["object"].values())


@pytest.mark.django_db
@fuzz
@given(body=st.one_of(st.binary(max_size=2000), ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_random_bytes_signed_or_not_are_refused_with_a_reason(client: Any, body: bytes) -> None:
    before = row_counts()
    unsigned = client.post("/webhooks/stripe/", data=body, content_type="application/json")
    assert_refused(unsigned, before)
    signed = client.post("/webhooks/stripe/", data=body, content_type="application/json", **signed_headers(body))
    assert_refused(signed, before)


def _header_wrong_secret(body: bytes, now: int, text: str) -> str:
    return f"t={now},v1={stripe_signature('whsec_not_ours', now, body)}"


def _header_wrong_scheme(body: bytes, now: int, text: str) -> str:
    return f"t={now},v0={stripe_signature(TEST_SECRET, now, body)}"


def _header_too_old(body: bytes, now: int, text: str) -> str:
    return f"t={now - 3600},v1={stripe_signature(TEST_SECRET, now - 3600, body)}"


def _header_from_the_future(body: bytes, now: int, text: str) -> str:
    return f"t={now + 3600},v1={stripe_signature(TEST_SECRET, now + 3600, body)}"


def _header_other_body(body: bytes, now: int, text: str) -> str:
    return f"t={now},v1={stripe_signature(TEST_SECRET, now, body + b' ')}"


def _header_garbage(body: bytes, now: int, text: str) -> str:
    return text


def _header_signed_timestamp_swapped(body: bytes, now: int, text: str) -> str:
    return f"t={now + 1},v1={stripe_signature(TEST_SECRET, now, body)}"


BAD_HEADERS: list[Callable[[bytes, int, str], str]] = [
    _header_wrong_secret,
    _header_wrong_scheme,
    _header_too_old,
    _header_from_the_future,
    _header_other_body,
    _header_garbage,
    _header_signed_timestamp_swapped,
]


@pytest.mark.django_db
@fuzz
@given(
    make_header=st.sampled_from(BAD_HEADERS),
    text=st.one_of(ANY_TEXT, st.just("t=,v1="), st.just("t=1,t=2,v1=" + "0" * 64), st.just("," * 500)),
    event_id=ANY_TEXT,
)
def test_bad_signatures_are_refused_with_a_reason_and_nothing_stored(
    client: Any, make_header: Callable[[bytes, int, str], str], text: str, event_id: str
) -> None:
    body = stripe_event(f"evt_{event_id}")
    header = make_header(body, int(time.time()), text)
    before = row_counts()
    response = client.post(
        "/webhooks/stripe/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert_refused(response, before, statuses=(400, 401))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"id": "evt_x", "type": "charge.succeeded", "data": {"object": {}}}, "created"),
        ({"id": "evt_x", "type": "charge.succeeded", "created": "yesterday", "data": {"object": {}}}, "created"),
        ({"id": "evt_x", "type": "charge.succeeded", "created": 2**63, "data": {"object": {}}}, "created"),
        ({"id": "evt_x", "type": "charge.succeeded", "created": 1, "data": "garbage"}, "data.object"),
        ({"id": "evt_x", "type": "charge.succeeded", "created": 1, "data": {"object": [1]}}, "data.object"),
        ({"id": "evt_x", "type": "charge.succeeded", "created": 1, "data": {}}, "data.object"),
        ({"id": "evt_x", "type": "x", "created": 1, "data": {"object": {}}, "livemode": "false"}, "livemode"),
        ({"id": "evt_x", "type": "x", "created": 1, "data": {"object": {"description": "a\x00b"}}}, "NUL"),
        ({"id": "evt_x", "type": "x", "created": 1, "data": {"object": {"\x00": 1}}}, "NUL"),
        ({"id": "evt_x", "type": "x", "created": 1, "data": {"object": {"name": "\ud83d"}}}, "lone surrogate"),
        ({"id": "evt_x", "type": "x", "created": 1, "data": {"object": {"amount": math.inf}}}, "JSON"),
        ({"id": "evt_x", "type": "x", "created": 1, "data": {"object": deep(40)}}, "nested deeper"),
    ],
)
def test_signed_events_the_processing_or_the_database_could_not_take_are_refused(
    client: Any, event: dict[str, Any], reason: str
) -> None:
    """Each of these was a 500 (PostgreSQL refuses NUL and lone surrogates in jsonb, both refuse NaN) or
    an event stored only to fail on every retry (dj-stripe reads `created` and `data.object` blindly)."""
    body = json_body(event)
    before = row_counts()
    response = client.post("/webhooks/stripe/", data=body, content_type="application/json", **signed_headers(body))
    assert_refused(response, before)
    assert reason in response.json()["error"]


@pytest.mark.django_db
def test_huge_and_negative_numbers_in_a_signed_event_are_stored_exactly(client: Any) -> None:
    """jsonb keeps any integer exactly, so these are not refused; processing reads amounts from the API."""
    body = stripe_event("evt_numbers", amount=2**63, amount_refunded=-1, application_fee_amount=10**30)
    response = client.post("/webhooks/stripe/", data=body, content_type="application/json", **signed_headers(body))
    assert response.status_code == 200
    obj = InboundEvent.objects.get(event_id="evt_numbers").payload["data"]["object"]
    assert (obj["amount"], obj["amount_refunded"], obj["application_fee_amount"]) == (2**63, -1, 10**30)


@pytest.mark.django_db
def test_a_ten_megabyte_body_is_refused_as_too_large_before_it_is_read(client: Any) -> None:
    body = stripe_event("evt_huge", padding="x" * 10 * 1024 * 1024)
    before = row_counts()
    for url in ("/webhooks/stripe/", f"/webhooks/checkfront/{TOKEN}/"):
        response = client.post(url, data=body, content_type="application/json", **signed_headers(body))
        assert_refused(response, before, statuses=(413,))
        assert "larger than" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_a_ten_megabyte_body_over_real_http_gets_413(live_server: Any) -> None:
    body = b'{"id": "evt_huge", "pad": "' + b"x" * 10 * 1024 * 1024 + b'"}'
    response = requests.post(
        f"{live_server.url}/webhooks/stripe/",
        data=body,
        headers={"Content-Type": "application/json", **_raw_headers(body)},
        timeout=30,
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def _raw_headers(body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": signed_headers(body)["HTTP_STRIPE_SIGNATURE"]}


# ---- Processing what was signed and stored ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "obj",
    [
        {"object": "payment_intent"},
        {"id": 5, "object": "payment_intent"},
        {"id": {"nested": "id"}, "object": "payment_intent"},
        {"id": "pi_does_not_exist", "object": "payment_intent", "amount": -1, "currency": "zzz"},
        {"id": "pi_does_not_exist", "object": "payment_intent", "amount": 2**63, "currency": "USD"},
        {"id": "x_1", "object": "spaceship"},
        {"id": "ch_" + "é" * 200, "object": "charge", "amount": "lots"},
    ],
)
def test_signed_nonsense_is_processed_without_an_exception_and_without_workflow_rows(
    client: Any, stripe_api_base: str, obj: dict[str, Any]
) -> None:
    """Authentic but meaningless: stored, then processed cleanly; nothing reaches a workflow or the mirror."""
    from djstripe import models as djstripe_models

    from audit.models import Decision

    body = stripe_event("evt_nonsense", "payment_intent.succeeded")
    event = json.loads(body)
    event["data"]["object"] = obj
    body = json_body(event)
    assert (
        client.post("/webhooks/stripe/", data=body, content_type="application/json", **signed_headers(body)).status_code
        == 200
    )
    stored = InboundEvent.objects.get(event_id="evt_nonsense")
    assert process_event(stored.pk) == EventStatus.PROCESSED
    assert not Decision.objects.exists()
    assert not djstripe_models.PaymentIntent.objects.exists()
    assert not djstripe_models.Charge.objects.exists()


@pytest.mark.django_db
def test_a_signed_event_cannot_change_an_amount_the_mirror_reads_from_stripe(
    client: Any, stripe_api_base: str, stripe_client: Any
) -> None:
    from djstripe import models as djstripe_models

    intent = stripe_client.v1.payment_intents.create({"amount": 4200, "currency": "usd"})
    body = stripe_event("evt_tampered", "payment_intent.created", **{"id": intent.id, "amount": 2**63})
    assert (
        client.post("/webhooks/stripe/", data=body, content_type="application/json", **signed_headers(body)).status_code
        == 200
    )
    assert process_event(InboundEvent.objects.get(event_id="evt_tampered").pk) == EventStatus.PROCESSED
    assert djstripe_models.PaymentIntent.objects.get(id=intent.id).stripe_data["amount"] == 4200


# ---- Replays ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_event_posted_ten_times_at_once_is_stored_once_and_processed_once(
    live_server: Any, recorded_handler: list[int]
) -> None:
    from payops.inbox_dispatcher import dispatch_pending

    body = stripe_event("evt_replayed", "test.recorded")
    headers = {"Content-Type": "application/json", **_raw_headers(body)}

    def deliver(_: int) -> requests.Response:
        try:
            return requests.post(f"{live_server.url}/webhooks/stripe/", data=body, headers=headers, timeout=30)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(deliver, range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 9
    event = InboundEvent.objects.get(event_id="evt_replayed")
    assert dispatch_pending() == 1
    # A replay after processing is still a 2xx (Stripe must not retry) and changes nothing.
    late = requests.post(f"{live_server.url}/webhooks/stripe/", data=body, headers=headers, timeout=30)
    assert (late.status_code, late.json()["duplicate"]) == (200, True)
    assert dispatch_pending() == 0
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 1)
    assert recorded_handler == [event.pk]


@pytest.mark.django_db(transaction=True)
def test_one_checkfront_webhook_posted_ten_times_at_once_is_stored_once(live_server: Any) -> None:
    body = b"booking[code]=FUZZ-000001&booking[status]=PAID"
    url = f"{live_server.url}/webhooks/checkfront/{TOKEN}/"

    def deliver(_: int) -> requests.Response:
        try:
            return requests.post(
                url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(deliver, range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 9
    assert InboundEvent.objects.filter(source="checkfront").count() == 1


# ---- Checkfront -------------------------------------------------------------------------------------------


def post_checkfront(client: Any, body: bytes, content_type: str, token: str = TOKEN) -> Any:
    path_token = quote(token.encode("utf-8", "surrogatepass"), safe="")
    return client.post(f"/webhooks/checkfront/{path_token}/", data=body, content_type=content_type)


def assert_stored_or_refused(response: Any, before: dict[str, int]) -> None:
    if response.status_code == 400:
        assert_refused(response, before)
        return
    assert response.status_code == 200, response.content[:300]
    stored = InboundEvent.objects.get(source="checkfront", trace_id=response.json()["trace_id"])
    assert stored.event_type.split(".")[0] in ("booking", "transaction", "item", "rate")


CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/xml", "text/xml", "application/x-www-form-urlencoded", "", "text/plain"]
)


@pytest.mark.django_db
@fuzz
@given(body=st.binary(max_size=2000), content_type=CONTENT_TYPES)
def test_checkfront_random_bytes_are_refused_or_stored(client: Any, body: bytes, content_type: str) -> None:
    before = row_counts()
    assert_stored_or_refused(post_checkfront(client, body, content_type), before)


@st.composite
def checkfront_payloads(draw: st.DrawFn) -> dict[str, Any]:
    booking = {
        "code": draw(st.one_of(st.just("ABCD-010126"), ANY_TEXT, NUMBERS, st.none(), JSON_VALUES)),
        "status": draw(st.one_of(st.just("PAID"), ANY_TEXT)),
        "total": draw(AMOUNTS),
        "currency": draw(CURRENCIES),
    }
    transaction = {"booking_id": draw(st.one_of(st.just("ABCD-010126"), SCALARS)), "amount": draw(AMOUNTS)}
    shape = draw(st.sampled_from(["booking", "transaction", "item", "other"]))
    shapes: dict[str, dict[str, Any]] = {
        "booking": {"booking": booking},
        "transaction": {"type": "transaction", "action": draw(ANY_TEXT), "transaction": transaction},
        "item": {"type": draw(st.sampled_from(["item", "rate"])), "action": draw(SCALARS)},
        "other": draw(st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=4)),
    }
    payload = shapes[shape]
    payload["noise"] = draw(JSON_VALUES)
    return payload


@pytest.mark.django_db
@fuzz
@given(payload=checkfront_payloads())
def test_checkfront_json_of_any_shape_is_stored_or_refused_with_a_reason(client: Any, payload: dict[str, Any]) -> None:
    before = row_counts()
    assert_stored_or_refused(post_checkfront(client, json_body(payload), "application/json"), before)


FORM_KEYS = st.lists(
    st.one_of(ANY_TEXT, st.sampled_from(["", "0", "1", "[", "]", "][", "booking", "code"])), max_size=6
)


@st.composite
def php_form_bodies(draw: st.DrawFn) -> bytes:
    """PHP-style bodies: `booking[code]=X` pairs with odd keys, some percent-encoded, some raw and malformed."""
    pairs = [("booking[code]", "ABCD-010126")] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 6))):
        head = draw(st.one_of(st.sampled_from(["booking", "transaction", "type", "a"]), ANY_TEXT))
        key = head + "".join(f"[{segment}]" for segment in draw(FORM_KEYS))
        pairs.append((key, draw(st.one_of(ANY_TEXT, AMOUNTS.map(str)))))
    encoded = urlencode(
        [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in pairs]
    ).encode()
    raw = "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")
    deep_key = ("a" + "[b]" * draw(st.integers(0, 3000)) + "=1").encode()
    return draw(st.sampled_from([encoded, raw, encoded + b"&" + deep_key, raw + b"&&==&%zz"]))


@pytest.mark.django_db
@fuzz
@given(body=php_form_bodies())
@example(body=b"=")  # parsed to a list: was a 500
def test_checkfront_php_form_bodies_are_stored_or_refused_with_a_reason(client: Any, body: bytes) -> None:
    before = row_counts()
    assert_stored_or_refused(post_checkfront(client, body, "application/x-www-form-urlencoded"), before)


@pytest.mark.django_db
@fuzz
@given(code=ANY_TEXT, escape=st.booleans(), depth=st.sampled_from([0, 1, 40, 5000]))
def test_checkfront_xml_bodies_are_stored_or_refused_with_a_reason(
    client: Any, code: str, escape: bool, depth: int
) -> None:
    from xml.sax.saxutils import escape as xml_escape

    text = xml_escape(code) if escape else code
    body = ("<checkfront-notify><booking><code>" + text + "</code></booking>" + "<n>" * depth + "</n>" * depth).encode(
        "utf-8", "surrogatepass"
    ) + b"</checkfront-notify>"
    before = row_counts()
    assert_stored_or_refused(post_checkfront(client, body, "application/xml"), before)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"booking": {"code": "A\\u0000B"}}', "application/json", "NUL"),
        (b'{"booking": {"code": "AB", "note": "\\ud800"}}', "application/json", "lone surrogate"),
        (b'{"booking": {"code": "AB", "\\u0000": 1}}', "application/json", "NUL"),
        (b'{"booking": {"code": "AB", "total": NaN}}', "application/json", "NaN"),
        (b'{"booking": {"code": "AB", "total": 1e999}}', "application/json", "Infinity"),
        (b'{"booking": {"code": "AB"}, "d": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "application/json", "JSON"),
        (b"<a><booking><code>X</code></booking>" + b"<b>" * 30_000 + b"</b>" * 30_000 + b"</a>", "text/xml", "deep"),
        (b"booking[code]=X&a" + b"[b]" * 20_000 + b"=1", "application/x-www-form-urlencoded", "deeper"),
        (b"booking[code]=X&note=%00", "application/x-www-form-urlencoded", "NUL"),
        (b'{"type": "item", "action": "' + b"a" * 500 + b'"}', "application/json", "event type"),
        (b'{"type": "item", "action": "up\\u0007date"}', "application/json", "event type"),
    ],
)
def test_checkfront_bodies_that_were_500s_are_refused_with_a_reason(
    client: Any, body: bytes, content_type: str, reason: str
) -> None:
    """Each was a 500: stack overflow while parsing, or PostgreSQL refusing the row (NUL, surrogate, NaN, length)."""
    before = row_counts()
    response = post_checkfront(client, body, content_type)
    assert_refused(response, before)
    assert reason in response.json()["error"]


@pytest.mark.django_db
@fuzz
@given(token=st.one_of(ANY_TEXT, st.just(TOKEN[:-1]), st.just(TOKEN + "x"), st.just(TOKEN.upper())))
def test_checkfront_wrong_tokens_are_refused_and_nothing_stored(client: Any, token: str) -> None:
    before = row_counts()
    response = post_checkfront(client, b"booking[code]=ABCD-010126", "application/x-www-form-urlencoded", token)
    assert response.status_code in (403, 404)
    if response["Content-Type"] == "application/json":
        assert response.json()["error"]
    assert row_counts() == before


@pytest.mark.django_db
def test_checkfront_without_a_token_is_refused(client: Any) -> None:
    before = row_counts()
    response = client.post("/webhooks/checkfront/", data=b"booking[code]=X", content_type="text/plain")
    assert_refused(response, before, statuses=(404,))
