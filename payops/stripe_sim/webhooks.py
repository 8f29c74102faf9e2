"""Webhook delivery: signed POSTs to every enabled endpoint, retried with exponential backoff, all logged.

Stripe's behaviour (https://docs.stripe.com/webhooks#retries): live mode
retries a failed delivery for up to three days with exponential backoff; test
mode retries three times over a few hours. Here a failed attempt (non-2xx,
timeout, refused connection) is retried after backoff_base × 2^(attempt−1)
seconds, up to max_attempts in all (defaults 60 s and 4: 1, 2, then 4 minutes,
so a local receiver that was down recovers its events quickly; tests use
milliseconds). Deliveries run on one background thread, never inside an API
request, oldest due first, so one endpoint sees events in the order they
happened unless a retry is pending. The queue lives in memory: deliveries
still waiting when the simulator stops are dropped (the events stay listable).

Signature, as Stripe signs: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
with the wall-clock time of each attempt (the receiver compares it with its
own clock, whatever the simulated clock says).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from payops.stripe_sim.events import matches
from payops.stripe_sim.store import Store
from simkit.webhook_queue import DeliveryQueue, backoff_delay

logger = logging.getLogger(__name__)

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass(frozen=True)
class Delivery:
    endpoint_id: str
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    attempt: int


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    signed = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signed}"


class WebhookDispatcher:
    def __init__(
        self, store: Store, *, backoff_base: float = 60.0, timeout: float = 10.0, max_attempts: int = 4
    ) -> None:
        if backoff_base < 0 or timeout <= 0 or max_attempts < 1:
            raise ValueError("backoff_base >= 0, timeout > 0 and max_attempts >= 1 are required")
        self.store = store
        self.backoff_base = backoff_base
        self.timeout = timeout
        self.max_attempts = max_attempts
        # The queue logs a delivery that crashes and goes on with the next.
        self._deliveries = DeliveryQueue(self._attempt, thread_name="stripe-sim-webhooks", join_timeout=timeout + 1)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._deliveries.start()

    def stop(self) -> None:
        """Deliveries still queued are dropped."""
        self._deliveries.stop()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is queued or being sent (retries included); False on timeout."""
        return self._deliveries.wait_idle(timeout)

    def pending(self) -> int:
        return self._deliveries.pending()

    # --- endpoints ---------------------------------------------------------------------------

    def endpoints(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT doc, private FROM objects WHERE object = 'webhook_endpoint' ORDER BY seq"
            ).fetchall()
        return [{**json.loads(row["doc"]), "secret": json.loads(row["private"])["secret"]} for row in rows]

    def enabled_endpoints(self) -> list[dict[str, Any]]:
        return [e for e in self.endpoints() if e["status"] == "enabled"]

    def counter(self) -> Callable[[str], int]:
        """pending_webhooks for the events of one API call: the enabled endpoints are read once, when first needed."""
        enabled: list[dict[str, Any]] | None = None

        def count(event_type: str) -> int:
            nonlocal enabled
            if enabled is None:
                enabled = self.enabled_endpoints()
            return sum(1 for e in enabled if matches(e["enabled_events"], event_type))

        return count

    # --- publishing ------------------------------------------------------------------------------

    def publish(self, events: list[dict[str, Any]]) -> None:
        """Queue every event for every enabled endpoint that wants it (called after the API write commits)."""
        if not events:
            return
        endpoints = self.enabled_endpoints()
        now = time.monotonic()
        for event in events:
            body = json.dumps(event, indent=2).encode()
            for endpoint in endpoints:
                if matches(endpoint["enabled_events"], event["type"]):
                    delivery = Delivery(
                        endpoint["id"], endpoint["url"], endpoint["secret"], event["id"], event["type"], body, attempt=1
                    )
                    self._deliveries.put(delivery, due=now)

    # --- the delivery thread --------------------------------------------------------------------

    def _attempt(self, delivery: Delivery) -> None:
        started = time.monotonic()
        status, error, response = self._post(delivery)
        duration = round((time.monotonic() - started) * 1000, 1)
        delivered = status is not None and 200 <= status < 300
        retry_in = None
        if not delivered and delivery.attempt < self.max_attempts:
            retry_in = backoff_delay(self.backoff_base, delivery.attempt)
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO webhook_deliveries (attempted_at, endpoint_id, url, event_id, event_type, attempt,"
                " status_code, error, outcome, duration_ms, next_attempt_in, response)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    delivery.endpoint_id,
                    delivery.url,
                    delivery.event_id,
                    delivery.event_type,
                    delivery.attempt,
                    status,
                    error,
                    "delivered" if delivered else "failed",
                    duration,
                    retry_in,
                    response,
                ),
            )
            if delivered:
                conn.execute(
                    "UPDATE objects SET doc = json_set(doc, '$.pending_webhooks',"
                    " max(json_extract(doc, '$.pending_webhooks') - 1, 0)) WHERE id = ?",
                    (delivery.event_id,),
                )
        if delivered:
            return
        logger.info(
            "webhook %s to %s failed (attempt %d): %s", delivery.event_type, delivery.url, delivery.attempt, error
        )
        if retry_in is not None:
            self._deliveries.put(replace(delivery, attempt=delivery.attempt + 1), due=time.monotonic() + retry_in)

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None, str | None]:
        """(status, error, start of the response body) for one POST; redirects are not followed."""
        parts = urlsplit(delivery.url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname or "", parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Stripe-Signature": signature_header(delivery.secret, delivery.body, int(time.time())),
            "Connection": "close",
        }
        try:
            connection.request("POST", path, body=delivery.body, headers=headers)
            response = connection.getresponse()
            text = response.read(2000).decode("utf-8", "replace")
        except TimeoutError:
            return None, f"timed out after {self.timeout:g} s", None
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}", None
        finally:
            connection.close()
        error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
        return response.status, error, text

    # --- the log ------------------------------------------------------------------------------

    def deliveries(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest attempts first."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT * FROM webhook_deliveries ORDER BY delivery_id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [dict(row) for row in rows]

    def totals(self) -> dict[str, int]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT outcome, COUNT(*) FROM webhook_deliveries GROUP BY outcome").fetchall()
        counts = {str(outcome): int(n) for outcome, n in rows}
        return {"delivered": counts.get("delivered", 0), "failed": counts.get("failed", 0), "queued": self.pending()}
