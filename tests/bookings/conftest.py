"""A Checkfront simulator on loopback, and settings that point the client at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bookings.checkfront_client import CheckfrontClient, CheckfrontConfig
from bookings.checkfront_sim import CheckfrontSimulator

WEBHOOK_TOKEN = "checkfront-token-for-the-test-suite-0001"


@pytest.fixture
def checkfront(tmp_path: Path, settings: Any) -> Iterator[CheckfrontSimulator]:
    """A fresh simulator with a small seeded account; the client settings point at it."""
    with CheckfrontSimulator(tmp_path / "cf.sqlite3", port=0, webhook_backoff_base=0.01) as sim:
        sim.reset(bookings=40, seed=3)
        settings.CHECKFRONT_API_BASE = sim.api_url
        settings.CHECKFRONT_API_KEY = sim.api_key
        settings.CHECKFRONT_API_SECRET = sim.api_secret
        settings.CHECKFRONT_WEBHOOK_TOKENS = [WEBHOOK_TOKEN]
        yield sim


@pytest.fixture
def cf_client(checkfront: CheckfrontSimulator) -> CheckfrontClient:
    """A client with quick retries so fault tests stay fast."""
    return CheckfrontClient(
        CheckfrontConfig(
            api_base=checkfront.api_url,
            api_key=checkfront.api_key,
            api_secret=checkfront.api_secret,
            timeout_seconds=2,
            max_attempts=3,
            backoff_seconds=0.01,
        )
    )
