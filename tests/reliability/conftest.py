"""Shared by the reliability runs: both stand-ins wired to a live PayOps, and a settle loop in which time passes.

from tests.reliability.conftest import settle_until_quiet
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from audit.models import Decision, Outcome
from payops.event_processing import sweep_inbox
from payops.executors import sweep_executions
from payops.models import EventStatus, InboundEvent
from tests.polling import wait_until
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

__all__ = ["StandIns", "retry_round", "settle_until_quiet", "stuck_report"]

_IN_FLIGHT_EVENTS = [EventStatus.RECEIVED, EventStatus.PROCESSING]
_WAITING_EVENTS = [EventStatus.RECEIVED, EventStatus.PROCESSING, EventStatus.RETRYING]
_WAITING_DECISIONS = [Outcome.PENDING, Outcome.EXECUTING]


def stuck_report() -> str:
    """What is still waiting, for a failure message."""
    events = list(
        InboundEvent.objects.filter(status__in=_WAITING_EVENTS).values_list(
            "source", "event_type", "status", "attempts", "last_error"
        )[:10]
    )
    decisions = list(
        Decision.objects.filter(outcome__in=_WAITING_DECISIONS).values_list(
            "action", "booking_id", "outcome", "attempts", "outcome_detail"
        )[:10]
    )
    return f"events waiting: {[(*e[:4], str(e[4])[-300:]) for e in events]}; decisions waiting: {decisions}"


def _nothing_in_flight() -> bool:
    return not InboundEvent.objects.filter(status__in=_IN_FLIGHT_EVENTS).exists()


def _time_passes() -> int:
    """Every retry waiting for its time is due now; the beat sweeps send them (eager Celery runs them inline)."""
    now = timezone.now()
    earlier = now - timedelta(seconds=1)
    due = InboundEvent.objects.filter(status=EventStatus.RETRYING).update(next_attempt_at=now, queued_at=earlier)
    due += Decision.objects.filter(outcome=Outcome.PENDING).update(next_attempt_at=now, queued_at=earlier)
    sweep_inbox(now=now)
    sweep_executions(now=now)
    return due


def retry_round(sims: StandIns) -> None:
    """One round: webhooks delivered, then every waiting retry comes due and runs once."""
    sims.stripe.wait_for_webhooks(timeout=10)
    assert wait_until(_nothing_in_flight, timeout=20), stuck_report()
    _time_passes()
    assert wait_until(_nothing_in_flight, timeout=20), stuck_report()


def settle_until_quiet(sims: StandIns, *, timeout: float = 120, context: str = "") -> None:
    """Deliver every webhook, run every retry as if its time had come, until a round finds nothing to do.

    Fails with what is still waiting after `timeout` seconds (of the run, not of a clock being asserted).
    """
    deadline = time.monotonic() + timeout
    quiet_rounds = 0
    while quiet_rounds < 2:
        assert time.monotonic() < deadline, f"{context}: not settled after {timeout:.0f} s; {stuck_report()}"
        delivered = sims.checkfront.wait_for_webhooks(timeout=10) and sims.stripe.wait_for_webhooks(timeout=10)
        assert wait_until(_nothing_in_flight, timeout=20), f"{context}: {stuck_report()}"
        if _time_passes() or not delivered:
            quiet_rounds = 0
            continue
        waiting = (
            InboundEvent.objects.filter(status__in=_WAITING_EVENTS).exists()
            or Decision.objects.filter(outcome__in=_WAITING_DECISIONS).exists()
        )
        quiet_rounds = 0 if waiting else quiet_rounds + 1
