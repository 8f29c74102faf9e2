"""CheckfrontSimulator: the in-process handle that starts the server and drives the simulated account.

    sim = CheckfrontSimulator(db_path=tmp / "cf.sqlite3", port=0, webhook_backoff_base=0.01)
    with sim:                                   # start() ... stop()
        sim.reset(bookings=1000, seed=7)
        client_base = sim.api_url               # http://127.0.0.1:54321/api/3.0/
        sim.configure_webhooks(url="http://127.0.0.1:9000/hook", format="xml")
        booking = sim.create_booking(customer={"name": "Ann Lee", "email": "ann@example.com"},
                                     items=[{"sku": "harbourkayaktour", "qty": 2}])
        sim.add_payment(booking["code"], amount="20.00")
        sim.wait_for_webhooks()

Every method the control API (/_sim/) offers is here too; the returned
bookings are in the API's detail shape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from bookings.checkfront_sim import records
from bookings.checkfront_sim.account import DEFAULT_API_KEY, DEFAULT_API_SECRET
from bookings.checkfront_sim.activity import ActivityLoop
from bookings.checkfront_sim.api import API_PREFIX, CheckfrontApi
from bookings.checkfront_sim.booking_actions import BookingService
from bookings.checkfront_sim.control import ControlApi
from bookings.checkfront_sim.faults import FaultInjector
from bookings.checkfront_sim.money import parse_amount
from bookings.checkfront_sim.resources import booking_detail, note_resource, transaction_resource
from bookings.checkfront_sim.seed import SeedSummary, seed_catalogue, seed_store
from bookings.checkfront_sim.server import SimHTTPServer
from bookings.checkfront_sim.store import Store
from bookings.checkfront_sim.webhooks import EVENTS, WebhookDispatcher
from simkit.lifecycle import RequestCounters

Doc = dict[str, Any]


class SimulatorNotRunning(RuntimeError):
    """url/port asked of a simulator that has not been started."""


class CheckfrontSimulator:
    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        webhook_backoff_base: float = 2.0,
        webhook_timeout: float = 10.0,
        webhook_max_attempts: int = 5,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret must not be empty")
        self.store = Store(db_path)
        self.requested_port = port
        self.api_key = api_key
        self.api_secret = api_secret
        self.webhooks = WebhookDispatcher(
            self.store, backoff_base=webhook_backoff_base, timeout=webhook_timeout, max_attempts=webhook_max_attempts
        )
        self.service = BookingService(self.store, self.webhooks.publish)
        self.api = CheckfrontApi(self.service)
        self.control = ControlApi(self)
        self.faults = FaultInjector()
        self.requests = RequestCounters()
        self.stopping = threading.Event()
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._activity: ActivityLoop | None = None
        self._closed = False
        with self.store.read() as conn:
            empty = not records.list_items(conn)
        if empty:
            # Items are account configuration: present even before any seeding.
            seed_catalogue(self.store)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> CheckfrontSimulator:
        """Serve in a background thread; returns self."""
        if self._closed:
            raise SimulatorNotRunning("this simulator was stopped; make a new one on the same db_path")
        if self._server is not None:
            return self
        self._server = SimHTTPServer(self.requested_port, self)
        self._thread = self._server.serve_in_thread(name="checkfront-sim-http")
        self.webhooks.start()
        return self

    def stop(self) -> None:
        """Stop serving, delivering and activity, and close the store: the object is then finished.

        Safe to call twice. Webhook deliveries still queued are dropped.
        """
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self.stop_activity()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.webhooks.stop()
        self.store.close()

    def __enter__(self) -> CheckfrontSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until stop() (from another thread or a signal handler)."""
        self.start()
        self.stopping.wait()

    @property
    def port(self) -> int:
        if self._server is None:
            raise SimulatorNotRunning("the simulator is not running: call start()")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The base a client uses: http://127.0.0.1:<port>/api/3.0/"""
        return self.url + API_PREFIX

    # --- data -----------------------------------------------------------------------------

    def reset(
        self,
        *,
        bookings: int = 0,
        seed: int = 1,
        anchor: float | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SeedSummary | None:
        """Empty the store (webhook configuration kept, catalogue restored), then seed `bookings` if any."""
        self.store.reset()
        seed_catalogue(self.store)
        if bookings:
            return seed_store(self.store, bookings=bookings, seed=seed, anchor=anchor, progress=progress)
        return None

    def seed(
        self,
        *,
        bookings: int,
        seed: int = 1,
        anchor: float | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SeedSummary:
        """Seed a store that has no bookings yet (InvalidInput otherwise)."""
        return seed_store(self.store, bookings=bookings, seed=seed, anchor=anchor, progress=progress)

    def booking(self, code: str) -> Doc:
        return booking_detail(self.service.booking(code))

    def create_booking(self, spec: Mapping[str, Any] | None = None, /, **fields: Any) -> Doc:
        """Spec keys: customer (id, or {name, email, country, phone...}), items [{item_id or sku, qty, param}],
        start_date, end_date, status_id, currency, source_ip, fields, note, tid. Fires Booking Modified."""
        return booking_detail(self.service.create_booking({**(spec or {}), **fields}))

    def modify_booking(self, code: str, changes: Mapping[str, Any] | None = None, /, **fields: Any) -> Doc:
        """Changes: status_id, fields, start_date, end_date, items, note. Fires Booking Modified."""
        return booking_detail(self.service.modify_booking(code, {**(changes or {}), **fields}))

    def add_payment(
        self,
        code: str,
        *,
        amount: str,
        status: str = "PAID",
        gateway_id: str = "Stripe",
        transaction_id: str | None = None,
        payment_type: str | None = None,
        payment_mask: str | None = None,
    ) -> Doc:
        """A payment or refund: {"transaction": ..., "booking": detail}.

        Fires New Payment/Refund, then Booking Modified.
        """
        transaction, doc = self.service.record_payment(
            code,
            amount_minor=parse_amount(amount),
            status=status,
            gateway_id=gateway_id,
            transaction_id=transaction_id,
            payment_type=payment_type,
            payment_mask=payment_mask,
        )
        return {"transaction": transaction_resource(transaction, code), "booking": booking_detail(doc)}

    def update_booking(self, code: str, **params: Any) -> Doc:
        """What `POST booking/{code}/update` does: status_id, notify, set_paid."""
        return booking_detail(self.service.update_status(code, params))

    def add_note(self, code: str, body: Any, *, private: bool = True) -> Doc:
        return note_resource(self.service.add_note(code, body, private=private))

    # --- webhooks and faults ----------------------------------------------------------------

    def configure_webhooks(
        self,
        *,
        url: str | None = None,
        booking_url: str | None = None,
        transaction_url: str | None = None,
        format: str = "json",
        events: tuple[str, ...] | list[str] = EVENTS,
    ) -> Doc:
        """`url` sets both URLs; endpoints start enabled with no failures."""
        return self.webhooks.configure(
            booking_url=booking_url or url, transaction_url=transaction_url or url, fmt=format, events=events
        )

    def enable_webhooks(self) -> Doc:
        return self.webhooks.set_enabled(True)

    def disable_webhooks(self) -> Doc:
        return self.webhooks.set_enabled(False)

    def webhook_state(self, *, limit: int = 50, bodies: bool = False) -> Doc:
        return self.webhooks.state(limit=limit, bodies=bodies)

    def webhook_deliveries(self, *, limit: int = 100, bodies: bool = True) -> list[Doc]:
        """The delivery log, newest first."""
        return self.webhooks.deliveries(limit=limit, bodies=bodies)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every queued delivery (and retry) is done; False on timeout."""
        return self.webhooks.wait_idle(timeout)

    def set_faults(self, *rules: Mapping[str, Any]) -> list[Doc]:
        """Replace the fault rules (see faults.py), e.g. set_faults({"status": 503, "count": 2})."""
        return self.faults.set_rules(list(rules))

    def clear_faults(self) -> None:
        self.faults.clear()

    # --- activity and stats -------------------------------------------------------------------

    def start_activity(self, interval: float, *, seed: int | None = None) -> None:
        """Create, modify, pay or refund a random booking every `interval` seconds."""
        self.stop_activity()
        self._activity = ActivityLoop(self.service, interval=interval, seed=seed)
        self._activity.start()

    def stop_activity(self) -> None:
        if self._activity is not None:
            self._activity.stop()
            self._activity = None

    def stats(self) -> Doc:
        counts = self.store.counts()
        with self.store.read() as conn:
            by_status = records.booking_status_counts(conn)
        webhooks = self.webhooks.state(limit=0)
        return {
            "db_path": self.store.path,
            "url": self.url if self._server is not None else None,
            "bookings": counts["bookings"],
            "bookings_by_status": by_status,
            "customers": counts["customers"],
            "items": counts["items"],
            "transactions": counts["transactions"],
            "notes": counts["notes"],
            "api_requests": self.requests.describe(),
            "faults_injected": self.faults.injected,
            "customer_notifications": self.service.customer_notifications,
            "webhooks": {
                "enabled": webhooks["enabled"],
                "queued": webhooks["queued"],
                "consecutive_failures": webhooks["consecutive_failures"],
                **webhooks["totals"],
            },
            "activity": self._activity.describe()
            if self._activity
            else {"running": False, "interval": None, "actions": {}},
        }
