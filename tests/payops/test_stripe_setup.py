"""manage.py setup_stripe_webhook against the stand-in: the endpoint it makes delivers to our inbox."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
import stripe
from django.core.management import CommandError, call_command

from payops.models import EventStatus, InboundEvent
from payops.stripe_gateway import stripe_gateway
from payops.stripe_handlers import STRIPE_EVENT_TYPES
from tests.polling import wait_until


def setup_webhook(*args: str) -> str:
    out = StringIO()
    call_command("setup_stripe_webhook", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_endpoint_it_creates_delivers_signed_events_to_the_inbox(
    live_server: Any, stripe_api: Any, inbox_dispatcher: None, settings: Any
) -> None:
    url = f"{live_server.url}/webhooks/stripe/"
    output = setup_webhook(url)
    secret = re.search(r"(whsec_\w+)", output)
    assert secret is not None, output
    [endpoint] = stripe_gateway().list_webhook_endpoints()
    assert (endpoint.url, sorted(endpoint.enabled_events)) == (url, sorted(STRIPE_EVENT_TYPES))
    settings.STRIPE_WEBHOOK_SECRETS = [secret.group(1)]
    customer = stripe_gateway().create_customer(idempotency_key="cus-setup-hook", email="hook@example.com")
    assert stripe_api.wait_for_webhooks(timeout=10)
    assert wait_until(
        lambda: InboundEvent.objects.filter(event_type="customer.created", status=EventStatus.PROCESSED).exists()
    )
    assert InboundEvent.objects.get(event_type="customer.created").payload["data"]["object"]["id"] == customer.id


@pytest.mark.django_db
def test_a_second_endpoint_for_the_same_url_is_refused(stripe_api: Any) -> None:
    setup_webhook("http://127.0.0.1:8000/webhooks/stripe/")
    with pytest.raises(CommandError, match="already posts to"):
        setup_webhook("http://127.0.0.1:8000/webhooks/stripe/")
    assert len(stripe_gateway().list_webhook_endpoints()) == 1


@pytest.mark.parametrize(
    "url",
    ["http://payops.example.com/webhooks/stripe/", "https://payops.example.com/stripe/", "not a url"],
)
@pytest.mark.django_db
def test_an_unusable_url_is_refused_before_stripe_is_called(stripe_api: Any, url: str) -> None:
    with pytest.raises(CommandError, match=r"webhooks/stripe|https"):
        setup_webhook(url)
    assert stripe_gateway().list_webhook_endpoints() == []


def test_dry_run_lists_the_event_types_and_creates_nothing() -> None:
    output = setup_webhook("https://payops.example.com/webhooks/stripe/", "--dry-run")
    assert "charge.dispute.created" in output
    assert f"{len(STRIPE_EVENT_TYPES)} event types would be subscribed" in output


@pytest.mark.django_db
def test_running_again_after_deleting_the_endpoint_makes_a_new_one(stripe_api: Any, stripe_client: Any) -> None:
    url = "http://127.0.0.1:8000/webhooks/stripe/"
    first = re.search(r"created (we_\w+)", setup_webhook(url))
    assert first is not None
    stripe_client.v1.webhook_endpoints.delete(first.group(1))
    second = re.search(r"created (we_\w+)", setup_webhook(url))
    assert second is not None and second.group(1) != first.group(1)
    [endpoint] = stripe_gateway().list_webhook_endpoints()
    assert endpoint.id == second.group(1)
    assert endpoint.api_version == stripe.api_version
