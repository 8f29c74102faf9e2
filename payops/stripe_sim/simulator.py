"""StripeSimulator: the in-process handle that serves the fake Stripe API and drives its account.

    with StripeSimulator(tmp_path / "stripe.sqlite3", webhook_backoff_base=0.01) as sim:
        client = stripe.StripeClient("sk_test_...", base_addresses={"api": sim.url})
        sim.configure_webhook("http://127.0.0.1:8000/stripe/webhook/", secret="whsec_...")
        sim.script_declines("pm_123", ["insufficient_funds", "do_not_honor"])
        sim.advance_clock(7 * 86400)            # uncaptured authorizations expire
        sim.wait_for_webhooks()

Every control-API (/_sim/) route has a method of the same name here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from payops.stripe_sim import disputes, payments, refunds, restricted_keys, scripting, setup_intents, webhook_endpoints
from payops.stripe_sim.activity import ActivityLoop
from payops.stripe_sim.api import StripeApi
from payops.stripe_sim.balance import account_doc
from payops.stripe_sim.clock import SimClock
from payops.stripe_sim.context import Ctx, Doc
from payops.stripe_sim.control import ControlApi
from payops.stripe_sim.errors import InvalidRequest
from payops.stripe_sim.faults import FaultInjector
from payops.stripe_sim.idempotency import IdempotencyKeys
from payops.stripe_sim.ids import new_id
from payops.stripe_sim.server import SimHTTPServer
from payops.stripe_sim.store import Store
from payops.stripe_sim.webhooks import WebhookDispatcher
from simkit.lifecycle import RequestCounters

logger = logging.getLogger(__name__)

DEFAULT_WEBHOOK_SECRET = "whsec_payops_local_development_only"  # noqa: S105 - the project's local-only secret
# Work Stripe does later, by kind: (ctx, target id).
TASKS: dict[str, Callable[[Ctx, str], None]] = {
    "expire_authorization": payments.expire_authorization,
    "dispute_due": disputes.past_due,
    "refund_settle": refunds.settle,
    "refund_fail": refunds.scheduled_fail,
}


class SimulatorNotRunning(RuntimeError):
    """url/port asked of a simulator that has not been started."""


class StripeSimulator:
    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        port: int = 0,
        api_keys: tuple[str, ...] | list[str] | None = None,
        webhook_backoff_base: float = 60.0,
        webhook_timeout: float = 10.0,
        webhook_max_attempts: int = 4,
        tick_seconds: float = 0.25,
    ) -> None:
        """api_keys: the secret keys accepted (None: any sk_test_/rk_test_ key)."""
        self.store = Store(db_path)
        self.requested_port = port
        self.api_keys = tuple(api_keys) if api_keys is not None else None
        # rk_test_ key → its permissions; unregistered keys have full access.
        self.restricted_keys: dict[str, frozenset[str]] = {}
        self.clock = SimClock(float(self.store.get_meta("clock_offset") or 0.0))
        account = self.store.get_meta("account")
        if account is None:
            # The account survives reset and restarts, as a real one would.
            account = account_doc(new_id("acct"), self.clock.now())
            self.store.set_meta("account", account)
        self.account = account
        self.webhooks = WebhookDispatcher(
            self.store, backoff_base=webhook_backoff_base, timeout=webhook_timeout, max_attempts=webhook_max_attempts
        )
        self.api = StripeApi(self.store, self.clock, self.webhooks, self._settings)
        self.idempotency = IdempotencyKeys(self.store, self.clock)
        self.control = ControlApi(self)
        self.faults = FaultInjector()
        self.requests = RequestCounters()
        self.stopping = threading.Event()
        self.tick_seconds = tick_seconds
        self._server: SimHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._activity: ActivityLoop | None = None
        self._closed = False

    @property
    def account_id(self) -> str:
        return str(self.account["id"])

    def _settings(self) -> Doc:
        radar = self.store.get_meta("radar") or {}
        return {"account": self.account, "block_highest_risk": radar.get("block_highest_risk", True)}

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StripeSimulator:
        """Serve in background threads; returns self."""
        if self._closed:
            raise SimulatorNotRunning("this simulator was stopped; make a new one on the same db_path")
        if self._server is not None:
            return self
        self._server = SimHTTPServer(self.requested_port, self)
        serve = self._server.serve_in_thread(name="stripe-sim-http")
        tick = threading.Thread(target=self._tick, name="stripe-sim-scheduler", daemon=True)
        tick.start()
        self._threads = [serve, tick]
        self.webhooks.start()
        return self

    def stop(self) -> None:
        """Stop serving, delivering and ticking, and close the store: the object is then finished. Safe twice."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self.stop_activity()
        if self._server is not None:
            self._server.stop()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self.webhooks.stop()
        self.store.close()

    def __enter__(self) -> StripeSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until stop() (from another thread or a signal handler)."""
        self.start()
        self.stopping.wait()

    def _tick(self) -> None:
        while not self.stopping.wait(self.tick_seconds):
            try:
                self.run_due()
            except Exception:
                # The scheduler thread's boundary: log and keep ticking.
                logger.exception("scheduled Stripe work failed")

    @property
    def port(self) -> int:
        if self._server is None:
            raise SimulatorNotRunning("the simulator is not running: call start()")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>: stripe-python's api base (base_addresses={"api": sim.url})."""
        return f"http://127.0.0.1:{self.port}"

    api_base = url

    # --- data and time -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every object, event, key, script and delivery; the account, clock and webhook setting stay."""
        self.store.reset()
        managed = self.store.get_meta("managed_webhook")
        if managed:
            self.configure_webhook(managed["url"], secret=managed["secret"], events=tuple(managed["events"]))

    def clock_state(self) -> Doc:
        return {"now": self.clock.now(), "offset_seconds": self.clock.offset}

    def advance_clock(self, seconds: float) -> Doc:
        """Move the simulated clock forward and do what falls due (expiries, due dates); returns the clock."""
        self.clock.advance(seconds)
        self.store.set_meta("clock_offset", self.clock.offset)
        self.run_due()
        return self.clock_state()

    def run_due(self) -> int:
        """Do the scheduled work that is due by the simulated clock; returns how many tasks ran."""
        done = 0
        while True:
            with self.store.read() as conn:
                row = conn.execute(
                    "SELECT task_id, kind, target FROM scheduled WHERE due <= ? ORDER BY due, task_id LIMIT 1",
                    (self.clock.now(),),
                ).fetchone()
            if row is None:
                return done
            task_id, kind, target = row["task_id"], row["kind"], row["target"]

            def run(ctx: Ctx, task_id: int = task_id, kind: str = kind, target: str = target) -> None:
                ctx.conn.execute("DELETE FROM scheduled WHERE task_id = ?", (task_id,))
                TASKS[kind](ctx, target)

            self.api.perform(run)
            done += 1

    def get(self, object_id: str) -> Doc:
        """Any object as the API shows it."""

        def read(ctx: Ctx) -> Doc:
            record = ctx.get(object_id)
            if record is None:
                raise InvalidRequest(f"No such object: '{object_id}'")
            return ctx.render(record.doc)

        return dict(self.api.perform(read))

    # --- scripting -----------------------------------------------------------------------------------

    def script_declines(
        self,
        target: str,
        codes: list[str] | tuple[str, ...],
        *,
        advice_code: str | None = None,
        network_advice_code: str | None = None,
        network_decline_code: str | None = None,
    ) -> list[Doc]:
        """Queue declines for the next charges of a PaymentMethod (pm_…) or of every card with that fingerprint.

        Each charge takes the next code; once the queue is empty the card behaves as usual.
        """
        with self.store.write() as conn:
            return scripting.add_declines(
                conn,
                target,
                list(codes),
                advice_code=advice_code,
                network_advice_code=network_advice_code,
                network_decline_code=network_decline_code,
            )

    def script_risk(self, level: str, *, score: int | None = None, count: int = 1) -> list[Doc]:
        """Radar's risk_level (and score) for the next `count` charges; highest is blocked unless set_radar says not."""
        with self.store.write() as conn:
            return scripting.set_risk(conn, level=level, score=score, count=count)

    def set_radar(self, *, block_highest_risk: bool) -> Doc:
        """Radar's default rule "Block if :risk_level: = 'highest'" (on by default, as in Stripe)."""
        self.store.set_meta("radar", {"block_highest_risk": block_highest_risk})
        return {"block_highest_risk": block_highest_risk}

    def scripts(self) -> Doc:
        with self.store.read() as conn:
            return scripting.describe(conn)

    # --- what customers and banks do -------------------------------------------------------------------

    def authenticate_payment_intent(self, intent_id: str, *, success: bool = True) -> Doc:
        """Complete (or fail) the 3D Secure step of a PaymentIntent in requires_action."""

        def act(ctx: Ctx) -> Doc:
            intent = ctx.load("payment_intent", intent_id)
            payments.authenticate(ctx, intent, success=success)
            return ctx.render(intent.doc)

        return dict(self.api.perform(act))

    def authenticate_setup_intent(self, intent_id: str, *, success: bool = True) -> Doc:
        """Complete (or fail) the 3D Secure step of a SetupIntent in requires_action."""

        def act(ctx: Ctx) -> Doc:
            intent = ctx.load("setup_intent", intent_id)
            setup_intents.authenticate(ctx, intent, success=success)
            return ctx.render(intent.doc)

        return dict(self.api.perform(act))

    def fail_refund(self, refund_id: str) -> Doc:
        """The bank returns a refund: it becomes failed (refund.failed, charge.refund.updated)."""
        return dict(self.api.perform(lambda ctx: ctx.render(refunds.fail(ctx, refund_id))))

    def resolve_dispute(self, dispute_id: str, outcome: str) -> Doc:
        """The bank decides: won or lost (an inquiry closes as warning_closed)."""

        def act(ctx: Ctx) -> Doc:
            dispute = ctx.load("dispute", dispute_id)
            disputes.resolve(ctx, dispute, outcome)
            return ctx.render(dispute.doc)

        return dict(self.api.perform(act))

    # --- webhooks -----------------------------------------------------------------------------------------

    def configure_webhook(
        self, url: str, secret: str | None = DEFAULT_WEBHOOK_SECRET, events: tuple[str, ...] | list[str] = ("*",)
    ) -> Doc:
        """Replace the simulator's own endpoint (endpoints made through /v1/webhook_endpoints stay)."""
        secret = secret or DEFAULT_WEBHOOK_SECRET

        def act(ctx: Ctx) -> Doc:
            ctx.conn.execute(
                "DELETE FROM objects WHERE object = 'webhook_endpoint' AND json_extract(private, '$.managed')"
            )
            return webhook_endpoints.build(ctx, url=url, events=list(events), secret=secret, managed=True).doc

        endpoint = dict(self.api.perform(act))
        self.store.set_meta("managed_webhook", {"url": url, "secret": secret, "events": list(events)})
        return endpoint

    def _set_endpoint_status(self, status: str) -> None:
        with self.store.write() as conn:
            conn.execute(
                "UPDATE objects SET doc = json_set(doc, '$.status', ?) WHERE object = 'webhook_endpoint'", (status,)
            )

    def enable_webhooks(self) -> Doc:
        self._set_endpoint_status("enabled")
        return self.webhook_state()

    def disable_webhooks(self) -> Doc:
        """Endpoints stop receiving events (Stripe does not queue events for a disabled endpoint)."""
        self._set_endpoint_status("disabled")
        return self.webhook_state()

    def webhook_state(self, *, limit: int = 50) -> Doc:
        endpoints = [
            {key: value for key, value in endpoint.items() if key != "secret"} for endpoint in self.webhooks.endpoints()
        ]
        return {
            "endpoints": endpoints,
            "totals": self.webhooks.totals(),
            "backoff_base": self.webhooks.backoff_base,
            "max_attempts": self.webhooks.max_attempts,
            "deliveries": self.webhooks.deliveries(limit=limit),
        }

    def webhook_deliveries(self, *, limit: int = 100) -> list[Doc]:
        """The delivery log, newest attempt first."""
        return self.webhooks.deliveries(limit=limit)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until every queued delivery (and retry) is done; False on timeout."""
        return self.webhooks.wait_idle(timeout)

    def resend_event(self, event_id: str) -> int:
        """Deliver a stored event again to every endpoint that wants it; returns how many were queued."""
        event = self.get(event_id)
        if event.get("object") != "event":
            raise InvalidRequest(f"No such event: '{event_id}'")
        before = self.webhooks.pending()
        self.webhooks.publish([event])
        return self.webhooks.pending() - before

    # --- restricted keys ---------------------------------------------------------------------------------

    def add_restricted_key(self, key: str, permissions: Iterable[str]) -> Doc:
        """Register an rk_test_ key that may make only the calls `permissions` allow (see restricted_keys.py)."""
        if not key.startswith("rk_test_") or len(key) < 32:
            raise ValueError("a restricted test key looks like rk_test_ followed by 24+ letters and digits")
        self.restricted_keys[key] = restricted_keys.normalise(permissions)
        return {"key": key, "permissions": sorted(self.restricted_keys[key])}

    # --- faults and stats -------------------------------------------------------------------------------

    def set_faults(self, *rules: Mapping[str, Any]) -> list[Doc]:
        """Replace the fault rules (see faults.py), e.g. set_faults({"status": 429, "count": 2})."""
        return self.faults.set_rules(list(rules))

    def clear_faults(self) -> None:
        self.faults.clear()

    # --- activity and stats -----------------------------------------------------------------------------

    def start_activity(self, interval: float, *, seed: int | None = None) -> Doc:
        """Make a realistic payment every `interval` seconds (deterministic choices with a seed)."""
        self.stop_activity()
        self._activity = ActivityLoop(
            self.api, interval=interval, seed=seed, authenticate=self.authenticate_payment_intent
        )
        self._activity.start()
        return self._activity.describe()

    def stop_activity(self) -> None:
        if self._activity is not None:
            self._activity.stop()
            self._activity = None

    def stats(self) -> Doc:
        return {
            "db_path": self.store.path,
            "url": self.url if self._server is not None else None,
            "account": self.account_id,
            "clock": self.clock_state(),
            "objects": self.store.counts(),
            "api_requests": self.requests.describe(),
            "faults_injected": self.faults.injected,
            "webhooks": self.webhooks.totals(),
            "activity": self._activity.describe() if self._activity else {"running": False},
        }
