"""Checkfront out of reach: what must be written there waits and lands once; its webhooks, held back, count once.

Against both stand-ins. Checkfront answers 503, then 500, then stalls past
the client's timeout, then takes every write but loses the answer (a 502
after the change), then is stopped outright (connections refused) while
customers pay: Stripe's webhooks keep arriving, and the booking's status and
its note wait for Checkfront and are written once when it is back. Then
Checkfront's own webhooks are held back by a slow proxy (its first copy of
each arrives after Checkfront gave up on it and sent it again) or not sent at
all (the sync catches up): every change is mirrored, each event stored once.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from audit.models import Decision, Mode, Outcome
from bookings.checkfront_client import CheckfrontUnavailable
from bookings.checkfront_sim import CheckfrontSimulator
from bookings.models import Booking
from bookings.sync import sync_bookings
from payments.collection import CONFIRM_BOOKING
from payops.models import EventStatus, InboundEvent
from tests.bookings.conftest import WEBHOOK_TOKEN
from tests.payments.conftest import collection_of, set_payments_policy
from tests.payments.test_pay_page import pay
from tests.polling import wait_until
from tests.reliability.conftest import StandIns, retry_round, settle_until_quiet

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_TIMEOUT = 0.5  # seconds; a stall must outlast it
WEBHOOK_TIMEOUT = 1.0  # how long Checkfront waits for our answer to a webhook


@pytest.fixture
def checkfront(tmp_path: Path, settings: Any) -> Iterator[CheckfrontSimulator]:
    """The suite's Checkfront simulator, with a webhook timeout a held-back delivery can outlast."""
    sim = CheckfrontSimulator(
        tmp_path / "cf.sqlite3", port=0, webhook_backoff_base=0.01, webhook_timeout=WEBHOOK_TIMEOUT
    ).start()
    sim.reset(bookings=10, seed=3)
    settings.CHECKFRONT_API_BASE = sim.api_url
    settings.CHECKFRONT_API_KEY = sim.api_key
    settings.CHECKFRONT_API_SECRET = sim.api_secret
    settings.CHECKFRONT_WEBHOOK_TOKENS = [WEBHOOK_TOKEN]
    settings.CHECKFRONT_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    settings.CHECKFRONT_MAX_ATTEMPTS = 2
    yield sim
    sim.stop()


@pytest.fixture
def restarted() -> Iterator[list[CheckfrontSimulator]]:
    """Simulators started again after an outage, stopped after the test."""
    sims: list[CheckfrontSimulator] = []
    yield sims
    for sim in sims:
        sim.stop()


@pytest.fixture
def paying(stand_ins: StandIns) -> StandIns:
    set_payments_policy(Mode.AUTOMATE)
    return stand_ins


def new_booking(sims: StandIns, n: int) -> str:
    booking = sims.checkfront.create_booking(
        customer={"name": f"Ann Lee {n}", "email": f"ann.{n}@harbourco.ca"},
        items=[{"sku": "harbourkayaktour", "qty": 2}],
        status_id="HOLD",
    )
    settle_until_quiet(sims, context=f"booking {booking['code']}")
    return str(booking["code"])


def restart(sims: StandIns, path: str, port: int, restarted: list[CheckfrontSimulator]) -> None:
    """A new simulator on the stopped one's store and port: Checkfront back after an outage."""
    again = CheckfrontSimulator(path, port=port, webhook_backoff_base=0.01, webhook_timeout=WEBHOOK_TIMEOUT)
    restarted.append(again.start())
    sims.checkfront = again


def notes_in_checkfront(sim: CheckfrontSimulator, code: str) -> list[str]:
    with sim.store.read() as conn:
        rows = conn.execute("SELECT * FROM notes").fetchall()
    return [str(row["body"]) for row in rows if str(row["booking_code"]) == code]


def test_payments_made_while_checkfront_is_down_reach_it_once_when_it_is_back(
    paying: StandIns, client: Client, restarted: list[CheckfrontSimulator]
) -> None:
    sims = paying
    outages = ["503", "500", "stall", "lost", "stopped"]
    codes = {outage: new_booking(sims, n) for n, outage in enumerate(outages)}
    path, port = paying.checkfront.store.path, paying.checkfront.port
    for outage, code in codes.items():
        if outage == "503":
            sims.checkfront.set_faults({"status": 503})
        elif outage == "500":
            sims.checkfront.set_faults({"status": 500})
        elif outage == "stall":
            sims.checkfront.set_faults({"stall_seconds": CLIENT_TIMEOUT * 2})
        elif outage == "lost":
            # Every write happens, but its answer is lost: a 502 after the note or status change.
            sims.checkfront.set_faults({"status": 502, "method": "POST", "after": True})
        else:
            sims.checkfront.stop()  # connections refused
        # The customer pays; Stripe tells us; recording it in Checkfront must wait.
        answer = pay(client, collection_of(code), "pm_card_visa")
        assert answer.status_code == 302, (outage, answer.status_code)
        for _ in range(2):
            retry_round(sims)
        waiting = Decision.objects.get(action=CONFIRM_BOOKING, booking_id=code)
        if outage != "lost":  # there the writes happened: a re-run finds them done
            assert waiting.outcome == Outcome.PENDING, (outage, waiting.outcome, waiting.outcome_detail)
            assert "Checkfront" in waiting.outcome_detail["last_error"], (outage, waiting.outcome_detail)
        assert not InboundEvent.objects.filter(status=EventStatus.FAILED).exists(), outage
        if outage == "stall":
            time.sleep(CLIENT_TIMEOUT * 2)  # the stalled calls land before Checkfront is back
        if outage == "stopped":
            restart(sims, path, port, restarted)
        elif outage != "lost":
            assert sims.checkfront.booking(code)["status_id"] == "HOLD", outage
        sims.checkfront.clear_faults()
        settle_until_quiet(sims, context=f"after the {outage} outage")

    for outage, code in codes.items():
        booking = sims.checkfront.booking(code)
        assert (booking["status_id"], booking["amount_due"]) == ("PAID", "0.00"), (outage, booking)
        paid_notes = [n for n in notes_in_checkfront(sims.checkfront, code) if n.startswith("Paid ")]
        assert len(paid_notes) == 1, (outage, notes_in_checkfront(sims.checkfront, code))
        [decision] = Decision.objects.filter(action=CONFIRM_BOOKING, booking_id=code)
        assert decision.outcome == Outcome.EXECUTED, (outage, decision.outcome_detail)
        assert decision.attempts > 1, (outage, "it waited")
        assert Booking.objects.get(code=code).status == "PAID", outage
    # Every Stripe event delivered was stored once and processed.
    stripe_events = {d["event_id"] for d in sims.stripe.webhook_deliveries(limit=500) if d.get("event_id")}
    stored = set(InboundEvent.objects.filter(source="stripe").values_list("event_id", flat=True))
    assert stripe_events <= stored
    assert not InboundEvent.objects.exclude(status__in=[EventStatus.PROCESSED, EventStatus.IGNORED]).exists()


class SlowProxy:
    """Between Checkfront and our webhook endpoint: while holding, the first copy of a body waits past
    Checkfront's timeout (so Checkfront sends it again) and is then delivered all the same. Every other body
    only, as Checkfront turns a webhook off after five failures in a row."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.holding = False
        self.forwarded: dict[bytes, int] = {}
        self.held: list[bytes] = []
        self.in_flight = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    first = body not in proxy.forwarded
                    proxy.forwarded[body] = proxy.forwarded.get(body, 0) + 1
                    proxy.in_flight += 1
                    hold = proxy.holding and first and len(proxy.forwarded) % 2 == 1
                    if hold:
                        proxy.held.append(body)
                try:
                    if hold:
                        time.sleep(WEBHOOK_TIMEOUT * 1.5)
                    status = proxy.forward(self.path, body, self.headers.get("Content-Type", ""))
                    try:
                        self.send_response(status)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    except OSError:
                        pass  # Checkfront stopped waiting long ago
                finally:
                    with proxy.lock:
                        proxy.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def forward(self, path: str, body: bytes, content_type: str) -> int:
        request = urllib.request.Request(  # noqa: S310 - the loopback live server
            f"{self.target}{path}", data=body, method="POST", headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def idle(self) -> bool:
        with self.lock:
            return self.in_flight == 0


@pytest.fixture
def slow_proxy(stand_ins: StandIns) -> Iterator[SlowProxy]:
    proxy = SlowProxy(stand_ins.base_url)
    stand_ins.checkfront.configure_webhooks(url=f"{proxy.url}/webhooks/checkfront/{WEBHOOK_TOKEN}/")
    yield proxy
    proxy.server.shutdown()
    proxy.server.server_close()


def two_bookings(sims: StandIns) -> list[str]:
    codes = [
        str(
            sims.checkfront.create_booking(
                customer={"name": name, "email": f"{name.lower()}@harbourco.ca"},
                items=[{"sku": "harbourkayaktour", "qty": 2}],
                status_id="HOLD",
            )["code"]
        )
        for name in ("Cy", "Dee")
    ]
    settle_until_quiet(sims, context="two bookings")
    return codes


def change_bookings(sims: StandIns, codes: list[str]) -> dict[str, str]:
    """Staff at work in Checkfront: statuses changed, a payment taken, a booking made."""
    sims.checkfront.modify_booking(codes[0], status_id="STOP")
    sims.checkfront.modify_booking(codes[1], status_id="WAIT")
    booking = sims.checkfront.create_booking(
        customer={"name": "Bea Moss", "email": "bea@harbourco.ca"},
        items=[{"sku": "harbourkayaktour", "qty": 1}],
        status_id="HOLD",
    )
    sims.checkfront.add_payment(str(booking["code"]), amount="20.00", gateway_id="POS")
    return {code: sims.checkfront.booking(code)["status_id"] for code in [*codes, str(booking["code"])]}


def test_checkfront_webhooks_held_back_and_sent_twice_are_each_processed_once(
    stand_ins: StandIns, slow_proxy: SlowProxy
) -> None:
    codes = two_bookings(stand_ins)
    stored_before = InboundEvent.objects.filter(source="checkfront").count()
    slow_proxy.forwarded.clear()
    slow_proxy.holding = True
    expected = change_bookings(stand_ins, codes)
    assert stand_ins.checkfront.wait_for_webhooks(timeout=30)
    assert wait_until(slow_proxy.idle, timeout=30), "the proxy still holds deliveries"
    settle_until_quiet(stand_ins, context="held-back Checkfront webhooks")

    bodies = len(slow_proxy.forwarded)
    assert len(slow_proxy.held) >= 2, slow_proxy.forwarded.values()
    assert all(slow_proxy.forwarded[body] == 2 for body in slow_proxy.held), "a held body came twice"
    log = stand_ins.checkfront.webhook_deliveries(limit=200, bodies=False)
    assert {row["outcome"] for row in log} >= {"delivered", "failed"}, "Checkfront saw timeouts, then retried"
    events = InboundEvent.objects.filter(source="checkfront")
    assert events.count() - stored_before == bodies, "each body stored once, however often it came"
    assert set(events.values_list("status", flat=True)) <= {EventStatus.PROCESSED, EventStatus.IGNORED}
    for code, status in expected.items():
        assert Booking.objects.get(code=code).status == status, code


def test_checkfront_webhooks_never_sent_are_caught_up_by_the_sync_once_checkfront_answers(stand_ins: StandIns) -> None:
    codes = two_bookings(stand_ins)
    stand_ins.checkfront.disable_webhooks()  # an endpoint Checkfront gave up on: changes go unannounced
    expected = change_bookings(stand_ins, codes)
    assert stand_ins.checkfront.wait_for_webhooks(timeout=10)
    assert stand_ins.checkfront.webhook_state()["totals"]["skipped"] >= 4
    assert all(Booking.objects.filter(code=code, status=status).count() == 0 for code, status in expected.items())
    stand_ins.checkfront.set_faults({"status": 503})
    with pytest.raises(CheckfrontUnavailable):
        sync_bookings()  # the beat's sync while Checkfront is down: it fails and keeps its place
    assert all(Booking.objects.filter(code=code, status=status).count() == 0 for code, status in expected.items())
    stand_ins.checkfront.clear_faults()
    sync_bookings()
    settle_until_quiet(stand_ins, context="after the sync")
    for code, status in expected.items():
        assert Booking.objects.get(code=code).status == status, code


def test_a_payment_made_during_a_two_hour_checkfront_outage_still_reaches_it(paying: StandIns, client: Client) -> None:
    code = new_booking(paying, 9)
    paying.checkfront.set_faults({"status": 503})
    assert pay(client, collection_of(code), "pm_card_visa").status_code == 302
    # Retries after 30 s, 1, 2, 4, 8, 16 min, then every 30 min: nine of them are about two hours.
    for _ in range(9):
        retry_round(paying)
    waiting = Decision.objects.get(action=CONFIRM_BOOKING, booking_id=code)
    assert waiting.outcome == Outcome.PENDING, (waiting.attempts, waiting.outcome_detail)
    paying.checkfront.clear_faults()
    settle_until_quiet(paying, context="after a two-hour outage")
    waiting.refresh_from_db()
    assert waiting.outcome == Outcome.EXECUTED, waiting.outcome_detail
    assert paying.checkfront.booking(code)["status_id"] == "PAID"
    assert [n for n in notes_in_checkfront(paying.checkfront, code) if n.startswith("Paid ")] != []
