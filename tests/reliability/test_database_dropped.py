"""The database connection dropped under a working worker: each task fails cleanly, is retried and completes once.

On PostgreSQL the test terminates the worker's real backends (pg_terminate_backend on the connections whose
application_name the worker was started with) again and again while it processes. SQLite cannot drop a
connection, so there the worker is started through tests/reliability/faulty_worker.py, which fails a few
random queries and the ones right after them the way a lost connection does. Either way: no event is marked
processed without its effects, no decision is written without what belongs to it, none twice, and the next
task gets a working connection (Celery's Django fixup closes a broken one between tasks).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from djstripe.models import PaymentIntent as MirroredIntent

from audit.models import Decision, Outcome, Route
from payments.models import PaymentCollection
from payops.celery import app as celery_app
from payops.inbox_dispatcher import dispatch_until_idle
from payops.models import EventStatus, InboundEvent, ReviewItem
from payops.stripe_sim import StripeSimulator
from tests.payments.conftest import CUSTOMER, KAYAKS, set_payments_policy
from tests.payops.test_concurrency import post
from tests.polling import wait_until
from tests.reliability.processes import BUSY_EVENTS, process_env, sweep_until_quiet, wait_ready, worker
from tests.reliability.test_worker_killed import pay_at_the_stand_in
from tests.stand_ins import StandIns, checkfront, stand_ins, stripe_api_base, stripe_sim  # noqa: F401
from tests.webhook_payloads import TEST_SECRET, stripe_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

PAYMENTS = 25  # three events each
BOOKINGS = 4  # each: a collection decision executed against both stand-ins, and its own webhooks
WORKER_APP_NAME = "payops-reliability-worker"


@pytest.fixture
def short_leases(settings: Any) -> None:
    settings.INBOX_PROCESSING_LEASE_SECONDS = 5
    settings.EXECUTOR_LEASE_SECONDS = 5
    settings.INBOX_STUCK_AFTER_SECONDS = 10


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


class BackendKiller:
    """Terminates the worker's PostgreSQL backends every `interval` seconds until stopped."""

    def __init__(self, interval: float = 0.3) -> None:
        self.interval, self.terminated = interval, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="backend-killer", daemon=True)

    def run(self) -> None:
        try:
            while not self.stop.wait(self.interval):
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND application_name = %s AND pid <> pg_backend_pid()",
                        [WORKER_APP_NAME],
                    )
                    self.terminated += int(cursor.fetchone()[0])
        finally:
            connection.close()

    def __enter__(self) -> BackendKiller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_a_dropped_database_connection_fails_the_task_cleanly_and_it_is_retried_once(
    stand_ins: StandIns,  # noqa: F811 - the fixture imported above
    short_leases: None,
    tmp_path: Path,
) -> None:
    set_payments_policy("automate")
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()  # what an earlier run left in the suite's broker
    # Stored first, processed after: Stripe payments, and Checkfront bookings whose collection PayOps executes.
    intents = [pay_at_the_stand_in(3000 + n) for n in range(PAYMENTS)]
    codes = [
        str(stand_ins.checkfront.create_booking(customer=CUSTOMER, items=KAYAKS, status_id="HOLD")["code"])
        for _ in range(BOOKINGS)
    ]
    assert stand_ins.stripe.wait_for_webhooks(timeout=60) and stand_ins.checkfront.wait_for_webhooks(timeout=60)

    # libpq names the worker's connections after PGAPPNAME, so only they are terminated.
    env = process_env(PGAPPNAME=WORKER_APP_NAME)
    process = worker(env, tmp_path / "worker.log", faulty=not on_postgresql()).start()
    try:
        wait_ready(process)
        if on_postgresql():
            with BackendKiller() as killer:
                time.sleep(8)  # the worker takes its first tasks while its connections are cut under it
            assert killer.terminated > 0, "no worker connection was terminated"
        sweep_until_quiet(
            timeout=120,
            extra_quiet=lambda: (
                stand_ins.stripe.wait_for_webhooks(timeout=0.1) and stand_ins.checkfront.wait_for_webhooks(timeout=0.1)
            ),
        )
        log = process.log(10_000_000)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker ---\n{process.log()}") from exc
    finally:
        process.stop()
    assert process.process is not None and process.process.returncode is not None

    # The drops hit processing: some tasks failed on them and ran again.
    assert "OperationalError" in log or "InterfaceError" in log, log[-3000:]
    statuses = Counter(InboundEvent.objects.values_list("status", flat=True))
    assert set(statuses) <= {EventStatus.PROCESSED, EventStatus.IGNORED}, statuses
    # No event marked processed without its effects: the mirror holds what Stripe holds.
    mirrored = {
        pi: data.get("status")
        for pi, data in MirroredIntent.objects.filter(id__in=intents).values_list("id", "stripe_data")
    }
    assert mirrored == {pi: stand_ins.stripe.get(pi)["status"] for pi in intents}
    # Each booking collected once: one collection, one executed collect decision, one PaymentIntent at Stripe.
    for code in codes:
        [collection] = PaymentCollection.objects.filter(booking_code=code)
        [collect] = Decision.objects.filter(action="payments.collect", booking_id=code)
        assert collect.outcome == Outcome.EXECUTED, collect.outcome_detail
        assert collection.payment_intent_id == collect.outcome_detail["payment_intent_id"]
        assert stand_ins.stripe.get(collection.payment_intent_id)["amount"] == collection.amount_minor
    # Nothing half-written: no decision left executing, every decision for review has its item, none twice.
    assert not Decision.objects.filter(outcome=Outcome.EXECUTING).exists()
    for_review = Decision.objects.filter(route=Route.QUEUE)
    assert for_review.count() == ReviewItem.objects.filter(decision__in=for_review).count()
    proposed = Counter(
        (workflow, action, booking, tuple(stripe_ids), params.get("kind"))
        for workflow, action, booking, stripe_ids, params in Decision.objects.filter(parent__isnull=True).values_list(
            "workflow", "action", "booking_id", "stripe_ids", "params"
        )
    )
    assert {key: n for key, n in proposed.items() if n > 1} == {}


@pytest.mark.skipif(not on_postgresql(), reason="a SQLite connection cannot be dropped by the server")
def test_a_worker_whose_idle_connection_was_dropped_takes_the_next_task_without_failing(
    live_server: Any, tmp_path: Path
) -> None:
    """A database restart or failover drops every idle connection: the next task must not be the one that finds out."""

    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    process = worker(process_env(PGAPPNAME=WORKER_APP_NAME), tmp_path / "worker.log").start()
    try:
        wait_ready(process)
        done = InboundEvent.objects.filter(status=EventStatus.IGNORED)

        def deliver(event_id: str, *, processed: int) -> None:
            body = stripe_event(event_id, "balance.available")
            assert post(f"{live_server.url}/webhooks/stripe/", body) == 200
            assert dispatch_until_idle() == 1
            assert wait_until(lambda: done.count() == processed, timeout=30), (
                f"{event_id} not processed without a sweep:\n{process.log()}"
            )

        deliver("evt_idle_0", processed=1)  # the worker's connections are open now
        with BackendKiller(interval=0.05) as killer:
            assert wait_until(lambda: killer.terminated > 0, timeout=10)
        deliver("evt_idle_1", processed=2)  # the next task meets the dropped connection
        log = process.log(1_000_000)
    finally:
        process.stop()
    assert "OperationalError" not in log and "InterfaceError" not in log, log[-3000:]


@pytest.mark.skipif(not on_postgresql(), reason="a SQLite connection cannot be dropped by the server")
def test_a_connection_dropped_mid_handler_is_recorded_and_the_event_retried_without_waiting_for_its_lease(
    live_server: Any,
    stripe_sim: StripeSimulator,  # noqa: F811 - the fixture imported above
    stripe_api_base: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    stripe_sim.configure_webhook(url=f"{live_server.url}/webhooks/stripe/", secret=TEST_SECRET)
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    pay_at_the_stand_in(4000)
    assert stripe_sim.wait_for_webhooks(timeout=30)
    # The handler re-reads its object from Stripe before it writes: the read hangs while the connection is cut.
    stripe_sim.set_faults({"stall_seconds": 3, "count": 1, "method": "GET", "path_prefix": "/v1/"})
    process = worker(process_env(PGAPPNAME=WORKER_APP_NAME), tmp_path / "worker.log").start()
    try:
        wait_ready(process)
        assert dispatch_until_idle() == 3  # the payment's three events, in one message
        in_handler = InboundEvent.objects.filter(status=EventStatus.PROCESSING)
        assert wait_until(lambda: in_handler.exists() and stripe_sim.faults.injected > 0, timeout=30), process.log()
        hit = in_handler.get()
        with BackendKiller(interval=0.05) as killer:
            assert wait_until(lambda: killer.terminated > 0, timeout=10)
        # No sweep runs here: the handler's transaction fails, its rollback fails, Django drops the connection,
        # and the worker records the failure on a new one and retries (INBOX_RETRY_BASE_SECONDS=1).
        settled = wait_until(lambda: not InboundEvent.objects.filter(status__in=BUSY_EVENTS).exists(), timeout=60)
        assert settled, f"{list(InboundEvent.objects.values_list('event_type', 'status'))}\n{process.log()}"
    finally:
        process.stop()
    hit.refresh_from_db()
    assert (hit.status, hit.attempts) == (EventStatus.PROCESSED, 2), hit.last_error
    assert "connection" in hit.last_error, hit.last_error
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
