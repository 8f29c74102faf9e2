"""Both stand-ins wired to a live PayOps: the Checkfront simulator and the Stripe stand-in post their webhooks
to our inbox, the dispatcher processes them, decisions execute inline (eager Celery), and the settings point
every client at the stand-ins.

    # tests/<app>/conftest.py
    from tests.stand_ins import checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

    def test_flow(stand_ins):
        booking = stand_ins.checkfront.create_booking(...)
        stand_ins.settle()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from audit.models import Decision, Outcome
from bookings.checkfront_sim import CheckfrontSimulator
from payops.models import EventStatus, InboundEvent
from payops.stripe_sim import StripeSimulator
from tests.bookings.conftest import WEBHOOK_TOKEN, checkfront
from tests.polling import wait_until
from tests.stripe_fixtures import stripe_api_base, stripe_sim
from tests.webhook_payloads import TEST_SECRET

__all__ = ["StandIns", "checkfront", "stand_ins", "stripe_api_base", "stripe_sim"]

_BUSY_EVENTS = [EventStatus.RECEIVED, EventStatus.PROCESSING]
_BUSY_DECISIONS = [Outcome.EXECUTING]


@dataclass
class StandIns:
    checkfront: CheckfrontSimulator
    stripe: StripeSimulator
    base_url: str

    def _quiet(self) -> bool:
        return not (
            InboundEvent.objects.filter(status__in=_BUSY_EVENTS).exists()
            or Decision.objects.filter(outcome__in=_BUSY_DECISIONS).exists()
        )

    def settle(self, timeout: float = 30) -> None:
        """Wait until every webhook is delivered and processed and nothing new follows (writes cause webhooks)."""
        quiet_rounds = 0
        for _ in range(int(timeout * 4)):
            delivered = self.checkfront.wait_for_webhooks(timeout=timeout) and self.stripe.wait_for_webhooks(
                timeout=timeout
            )
            assert delivered, "a stand-in still had webhooks to deliver"
            assert wait_until(self._quiet, timeout=timeout), "events or decisions still in flight"
            quiet_rounds = quiet_rounds + 1 if self._quiet() else 0
            if quiet_rounds >= 2:
                break
        failed = list(InboundEvent.objects.filter(status=EventStatus.FAILED).values_list("event_type", "last_error"))
        assert failed == [], failed


@pytest.fixture
def stand_ins(
    live_server: Any,
    checkfront: CheckfrontSimulator,
    stripe_sim: StripeSimulator,
    stripe_api_base: str,
    inbox_dispatcher: None,
    settings: Any,
) -> StandIns:
    checkfront.configure_webhooks(url=f"{live_server.url}/webhooks/checkfront/{WEBHOOK_TOKEN}/")
    stripe_sim.configure_webhook(url=f"{live_server.url}/webhooks/stripe/", secret=TEST_SECRET)
    settings.PAYOPS_PUBLIC_URL = live_server.url
    return StandIns(checkfront=checkfront, stripe=stripe_sim, base_url=live_server.url)
