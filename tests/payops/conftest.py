"""PayOps and dj-stripe pointed at a fresh local Stripe stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from payops.stripe_gateway import StripeConfig, StripeGateway
from payops.stripe_sim import StripeSimulator
from tests.stripe_fixtures import TEST_API_KEY, stripe_api_base, stripe_client, stripe_sim

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
