"""A Celery worker SIGKILLed mid-task and started again: every stored event and every due retry is processed once.

The worker runs as the Procfile runs it (prefork, two processes) on the suite's broker (the filesystem broker
on SQLite, Redis on PostgreSQL). The Stripe stand-in holds two calls mid-flight (its stall faults, no hook in
PayOps), so at the kill one event is claimed by the dead worker and the due retry has sent its charge. Beat's
sweeps, run here with short leases, take both claims back; the new worker finishes them.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from djstripe.models import PaymentIntent as MirroredIntent

from audit.models import Decision, Outcome
from dunning import actions
from dunning.models import CustomerMessage, MessageKind, RecoveryCase, RecoveryStatus, RetryAttempt
from payments.models import CollectionStatus, PaymentCollection
from payops.celery import app as celery_app
from payops.executors import sweep_executions
from payops.models import EventStatus, InboundEvent
from payops.stripe_errors import CardDeclined
from payops.stripe_gateway import stripe_gateway
from tests.dunning.test_recovery_end_to_end import book, card_on_file, pending, set_dunning_policy
from tests.payments.conftest import set_payments_policy
from tests.polling import wait_until
from tests.reliability.processes import process_env, sweep_until_quiet, wait_ready, worker
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PAYMENTS = 40  # three events each: 120 stored events, besides the bookings'
CARDS = ["pm_card_visa", "pm_card_mastercard", "pm_card_visa_chargeDeclinedInsufficientFunds"]
STALL_SECONDS = 5


@pytest.fixture
def short_leases(settings: Any) -> None:
    """Beat's sweeps run in this process: claims older than a few seconds count as a dead worker's."""
    settings.INBOX_PROCESSING_LEASE_SECONDS = 8
    settings.EXECUTOR_LEASE_SECONDS = 8
    settings.INBOX_STUCK_AFTER_SECONDS = 15
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DUNNING_MAX_RETRIES = 2


def pay_at_the_stand_in(n: int) -> str:
    """A card payment made straight at Stripe (no booking): its events are mirrored and screened."""
    try:
        intent = stripe_gateway().create_payment_intent(
            idempotency_key=f"reliability-payment-{n}",
            amount_minor=1000 + n,
            currency="cad",
            payment_method_id=CARDS[n % len(CARDS)],
            confirm=True,
        )
    except CardDeclined as exc:  # the PaymentIntent and its events exist all the same
        return str(exc.payment_intent_id)
    return str(intent.id)


def test_a_worker_killed_mid_task_loses_nothing_and_repeats_nothing(
    stand_ins: StandIns,  # noqa: F811 - the fixture imported above
    short_leases: None,
    tmp_path: Path,
) -> None:
    set_payments_policy("automate")
    set_dunning_policy()
    # Set up inline: a returning customer's saved card is declined on a new booking; a retry is planned.
    card_on_file(stand_ins, "insufficient_funds")
    code = book(stand_ins)
    [retry] = pending(actions.RETRY, code)
    case = RecoveryCase.objects.get(booking_code=code)
    intent_id = case.payment_intent_id

    # From here a real worker does the work. The retry falls due first, so its message is first in line.
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()  # what an earlier run left in the suite's broker
    # Time passes: the retry is due, and the countdown message sent when it was planned has come and gone.
    now = timezone.now()
    Decision.objects.filter(pk=retry.pk).update(next_attempt_at=now, queued_at=now - timedelta(seconds=1))
    assert sweep_executions() == 1
    first_event = InboundEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    intents = [pay_at_the_stand_in(n) for n in range(PAYMENTS)]
    assert stand_ins.stripe.wait_for_webhooks(timeout=60), "the stand-in still had webhooks to deliver"
    stored = InboundEvent.objects.filter(pk__gt=first_event)
    assert stored.count() >= 3 * PAYMENTS

    # The retry's charge and one event's re-read of its object hang at Stripe while the worker is killed.
    confirm = f"/v1/payment_intents/{intent_id}/confirm"
    stand_ins.stripe.set_faults(
        {"stall_seconds": STALL_SECONDS, "count": 1, "method": "POST", "path_prefix": confirm},
        {"stall_seconds": STALL_SECONDS, "count": 1, "method": "GET", "path_prefix": "/v1/charges/"},
    )
    first = worker(process_env(), tmp_path / "worker-1.log").start()
    try:
        wait_ready(first)
        in_flight = wait_until(
            lambda: (
                Decision.objects.filter(pk=retry.pk, outcome=Outcome.EXECUTING).exists()
                and stored.filter(status=EventStatus.PROCESSING).exists()
                and all(rule["hits"] == 1 for rule in stand_ins.stripe.faults.describe())
            ),
            timeout=60,
        )
        assert in_flight, f"nothing in flight to kill: {first.log()}"
        claimed_by_the_dead = set(stored.filter(status=EventStatus.PROCESSING).values_list("pk", flat=True))
    finally:
        first.kill()
    assert wait_until(lambda: not first.group_alive(), timeout=10), "a pool process outlived the SIGKILL"

    second = worker(process_env(), tmp_path / "worker-2.log").start()
    try:
        wait_ready(second)
        sweep_until_quiet(
            timeout=120,
            extra_quiet=lambda: (
                stand_ins.stripe.wait_for_webhooks(timeout=0.1) and stand_ins.checkfront.wait_for_webhooks(timeout=0.1)
            ),
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker 2 ---\n{second.log()}") from exc
    finally:
        second.stop()

    # Every stored event processed, the ones the dead worker held included (claimed a second time).
    statuses = Counter(InboundEvent.objects.values_list("status", flat=True))
    assert set(statuses) <= {EventStatus.PROCESSED, EventStatus.IGNORED}, statuses
    for event in InboundEvent.objects.filter(pk__in=claimed_by_the_dead):
        assert event.status == EventStatus.PROCESSED and event.attempts == 2, (event.event_type, event.attempts)
    # Each payment's events reached the mirror: it holds what the stand-in holds.
    mirrored = {
        pi: data.get("status")
        for pi, data in MirroredIntent.objects.filter(id__in=intents).values_list("id", "stripe_data")
    }
    assert mirrored == {pi: stand_ins.stripe.get(pi)["status"] for pi in intents}
    # The due retry ran once: one retry charge at Stripe, one attempt recorded, one "recovered" email.
    retry.refresh_from_db()
    # Either the new worker re-ran it (and found the payment made) or the payment's webhook came first and
    # closed it: both are final, and neither charged again.
    assert retry.outcome in (Outcome.EXECUTED, Outcome.EXPIRED), (retry.outcome, retry.outcome_detail)
    charges = stripe_gateway().client.v1.charges.list({"payment_intent": intent_id}).data
    assert sorted(c.status for c in charges) == ["failed", "succeeded"]
    case.refresh_from_db()
    assert case.status == RecoveryStatus.RECOVERED
    assert list(RetryAttempt.objects.filter(case=case).values_list("number", "succeeded")) == [(0, False), (1, True)]
    assert CustomerMessage.objects.filter(case=case, kind=MessageKind.RECOVERED).count() == 1
    assert stand_ins.checkfront.booking(code)["status_id"] == "PAID"
    assert PaymentCollection.objects.get(booking_code=code).status == CollectionStatus.SUCCEEDED
    # Nothing stuck, nothing twice: no decision executing, none proposed twice for the same thing.
    assert not Decision.objects.filter(outcome=Outcome.EXECUTING).exists()
    proposed = Counter(
        (workflow, action, booking, tuple(stripe_ids), params.get("kind"), params.get("attempt"))
        for workflow, action, booking, stripe_ids, params in Decision.objects.filter(parent__isnull=True).values_list(
            "workflow", "action", "booking_id", "stripe_ids", "params"
        )
    )
    twice = {key: n for key, n in proposed.items() if n > 1}
    assert twice == {}, twice
