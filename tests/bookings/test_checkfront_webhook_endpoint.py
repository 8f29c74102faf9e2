"""Checkfront webhooks: authenticated by a token in the URL, stored once, any body format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from payops.models import InboundEvent

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "checkfront-token-for-the-test-suite-0001"
OLD_TOKEN = "checkfront-token-being-rotated-out-00002"


@pytest.fixture(autouse=True)
def _tokens(settings: Any) -> None:
    settings.CHECKFRONT_WEBHOOK_TOKENS = [TOKEN, OLD_TOKEN]


def post(client: Any, body: bytes, *, token: str = TOKEN, content_type: str = "application/json") -> Any:
    return client.post(f"/webhooks/checkfront/{token}/", data=body, content_type=content_type)


def test_booking_webhook_is_stored_with_a_payload_derived_key(client: Any) -> None:
    response = post(client, (FIXTURES / "webhook-booking.json").read_bytes())
    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.source == "checkfront"
    assert event.event_type == "booking.modified"
    assert event.event_id.startswith("booking:")
    assert event.payload["booking"]["code"] == "KMVQ-060314"


def test_payment_webhook_is_a_transaction_event(client: Any) -> None:
    assert post(client, (FIXTURES / "webhook-payment.json").read_bytes()).status_code == 200
    event = InboundEvent.objects.get()
    assert event.event_type == "transaction.insert"
    assert event.payload["transaction"]["booking_id"] == "LULZ-080916"


def test_a_replayed_delivery_is_stored_once(client: Any) -> None:
    body = (FIXTURES / "webhook-booking.json").read_bytes()
    assert post(client, body).json()["duplicate"] is False
    assert post(client, body).json()["duplicate"] is True
    assert InboundEvent.objects.count() == 1


def test_a_changed_booking_is_a_new_event(client: Any) -> None:
    body = (FIXTURES / "webhook-booking.json").read_bytes()
    post(client, body)
    post(client, body.replace(b'"HOLD"', b'"PAID"', 1))
    assert InboundEvent.objects.count() == 2


def test_rotated_token_still_works(client: Any) -> None:
    assert post(client, (FIXTURES / "webhook-booking.json").read_bytes(), token=OLD_TOKEN).status_code == 200


def test_the_same_event_in_xml_and_form_encoding_is_accepted(client: Any) -> None:
    xml = (
        b'<checkfront-notify version="3.0" host="h">'
        b'<booking booking_id="9"><code>ABCD-010126</code></booking></checkfront-notify>'
    )
    form = b"booking[code]=ABCD-010126&booking[status]=PAID"
    assert post(client, xml, content_type="application/xml").status_code == 200
    assert post(client, form, content_type="application/x-www-form-urlencoded").status_code == 200
    assert set(InboundEvent.objects.values_list("event_type", flat=True)) == {"booking.modified"}
    assert InboundEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        ("wrong-token-wrong-token-wrong-token", 403, "unknown Checkfront webhook token"),
        (TOKEN[:-1], 403, "unknown Checkfront webhook token"),
    ],
)
def test_bad_tokens_are_refused_and_nothing_stored(client: Any, token: str, status: int, reason: str) -> None:
    response = post(client, (FIXTURES / "webhook-booking.json").read_bytes(), token=token)
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert not InboundEvent.objects.exists()


def test_missing_token_is_refused(client: Any) -> None:
    response = client.post("/webhooks/checkfront/", data=b"{}", content_type="application/json")
    assert response.status_code == 404
    assert not InboundEvent.objects.exists()


def test_without_configured_tokens_everything_is_refused(client: Any, settings: Any) -> None:
    settings.CHECKFRONT_WEBHOOK_TOKENS = []
    response = post(client, (FIXTURES / "webhook-booking.json").read_bytes())
    assert response.status_code == 503
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{nope", "application/json", "not valid JSON"),
        (b'{"booking": {"status": "HOLD"}}', "application/json", "no booking code"),
        (b'{"type": "transaction", "transaction": {}}', "application/json", "no transaction with a booking_id"),
        (b'{"hello": "world"}', "application/json", "not a Checkfront"),
        (b"plain words", "text/plain", "unsupported Content-Type"),
    ],
)
def test_malformed_webhooks_get_400_and_nothing_is_stored(
    client: Any, body: bytes, content_type: str, reason: str
) -> None:
    response = post(client, body, content_type=content_type)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert not InboundEvent.objects.exists()
