"""PayOps and dj-stripe pointed at a fresh local Stripe stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.dispatch import Signal

from payops import stripe_signals
from payops.models import InboundEvent
from payops.stripe_gateway import StripeConfig, StripeGateway
from payops.stripe_sim import StripeSimulator
from tests.payops.stripe_flow import SIGNALS, Received, Sent
from tests.stripe_fixtures import TEST_API_KEY, stripe_api_base, stripe_client, stripe_sim
from tests.webhook_payloads import TEST_SECRET

__all__ = ["stripe_api_base", "stripe_client", "stripe_sim"]


@pytest.fixture
def stripe_api(stripe_sim: StripeSimulator, stripe_api_base: str, settings: Any) -> StripeSimulator:
    """The stand-in, with our settings and dj-stripe's global client aimed at it."""
    settings.STRIPE_MAX_ATTEMPTS = 2
    return stripe_sim


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(stripe_api: StripeSimulator, sleeps: list[float]) -> StripeGateway:
    """A gateway with short timeouts that records its backoff instead of sleeping."""
    config = StripeConfig(
        api_key=TEST_API_KEY, api_base=stripe_api.url, timeout_seconds=2, max_attempts=3, backoff_seconds=0.01
    )
    return StripeGateway(config, sleep=sleeps.append)


@pytest.fixture
def delivering(live_server: Any, stripe_api: StripeSimulator, inbox_dispatcher: None) -> StripeSimulator:
    """The stand-in posting signed webhooks to our inbox, the dispatcher processing them."""
    stripe_api.configure_webhook(url=f"{live_server.url}/webhooks/stripe/", secret=TEST_SECRET)
    return stripe_api


@pytest.fixture
def received() -> Iterator[Received]:
    """Records every domain signal sent while the test runs."""
    record = Received()

    def receiver_for(name: str) -> Any:
        def on_signal(
            sender: Any, event: InboundEvent, stripe_object: dict[str, Any], mirrored: Any, stale: bool, **_: Any
        ) -> None:
            record.calls.append(Sent(name, stripe_object["id"], mirrored, stale))

        return on_signal

    connected: list[tuple[Signal, Any]] = []
    for name in SIGNALS:
        signal, receiver = getattr(stripe_signals, name), receiver_for(name)
        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))
    yield record
    for signal, receiver in connected:
        signal.disconnect(receiver)
