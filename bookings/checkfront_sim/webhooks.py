"""Webhook delivery: endpoints kept in the store, a retry queue, one delivery thread, a log of every attempt.

Checkfront documents only that a webhook is disabled after 5 consecutive
failed deliveries [doc]; the rest is [assumed]/[design] here:
- every POST is a delivery attempt; a 2xx is success, anything else (other
  status, refused connection, 10 s timeout) a failure;
- a failed delivery is retried after backoff_base × 2^(attempt-1) seconds
  (2, 4, 8, 16 s by default), up to max_attempts in all;
- each endpoint counts consecutive failed attempts across all its events; a
  success resets the count; at 5 the endpoint is disabled and nothing more is
  sent to it (events are logged as "skipped") until it is re-enabled;
- booking and transaction URLs that are equal make one endpoint with both
  events; different URLs are two endpoints with their own counts;
- the queue lives in memory: deliveries still waiting when the simulator
  stops are dropped. Configuration, counts and the log persist in the store.
- for a payment, New Payment/Refund is queued before Booking Modified.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from bookings.checkfront_sim.booking_actions import BookingChange
from bookings.checkfront_sim.errors import InvalidInput
from bookings.checkfront_sim.payload_formats import (
    CONTENT_TYPES,
    FORMATS,
    Notification,
    booking_notification,
    transaction_notification,
)
from bookings.checkfront_sim.store import Store
from simkit.webhook_queue import DeliveryQueue, backoff_delay

logger = logging.getLogger(__name__)

EVENTS = ("booking", "transaction")
USER_AGENT = "Checkfront-Webhook/3.0 (PayOps simulator)"


@dataclass(frozen=True)
class _Delivery:
    endpoint_id: int
    url: str
    event: str
    fmt: str
    booking_code: str
    body: bytes
    attempt: int


def _valid_url(url: Any, name: str) -> str | None:
    if url in (None, ""):
        return None
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{name} must be an http:// or https:// URL, not {url!r}")
    return str(url)


class WebhookDispatcher:
    def __init__(
        self,
        store: Store,
        *,
        backoff_base: float = 2.0,
        timeout: float = 10.0,
        max_attempts: int = 5,
        disable_after: int = 5,
    ) -> None:
        self.store = store
        self.backoff_base = backoff_base
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.disable_after = disable_after
        # The queue logs a delivery that crashes and goes on with the next.
        self._deliveries = DeliveryQueue(self._attempt, thread_name="checkfront-sim-webhooks", join_timeout=timeout + 1)

    # --- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        self._deliveries.start()

    def stop(self) -> None:
        """Deliveries still queued are dropped."""
        self._deliveries.stop()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is queued or being sent (retries included); False on timeout."""
        return self._deliveries.wait_idle(timeout)

    # --- configuration -------------------------------------------------------------

    def configure(
        self,
        *,
        booking_url: str | None,
        transaction_url: str | None,
        fmt: str = "json",
        events: list[str] | tuple[str, ...] = EVENTS,
    ) -> dict[str, Any]:
        """Replace the endpoints; counts start at zero and every endpoint is enabled."""
        booking_url = _valid_url(booking_url, "booking_url")
        transaction_url = _valid_url(transaction_url, "transaction_url")
        if fmt not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
        unknown = set(events) - set(EVENTS)
        if unknown:
            raise InvalidInput(f"events must be among {', '.join(EVENTS)}")
        wanted: dict[str, list[str]] = {}
        for event, url in (("booking", booking_url), ("transaction", transaction_url)):
            if url and event in events:
                wanted.setdefault(url, []).append(event)
        with self.store.write() as conn:
            conn.execute("DELETE FROM webhook_endpoints")
            conn.executemany(
                "INSERT INTO webhook_endpoints (url, events, format, enabled) VALUES (?, ?, ?, 1)",
                [(url, json.dumps(evts), fmt) for url, evts in wanted.items()],
            )
        return self.state()

    def set_enabled(self, enabled: bool) -> dict[str, Any]:
        """Enable (resetting the failure counts) or disable every endpoint."""
        with self.store.write() as conn:
            if enabled:
                conn.execute("UPDATE webhook_endpoints SET enabled = 1, consecutive_failures = 0, disabled_at = NULL")
            else:
                conn.execute("UPDATE webhook_endpoints SET enabled = 0, disabled_at = ?", (time.time(),))
        return self.state()

    def endpoints(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT * FROM webhook_endpoints ORDER BY endpoint_id").fetchall()
        return [
            {
                "endpoint_id": row["endpoint_id"],
                "url": row["url"],
                "events": json.loads(row["events"]),
                "format": row["format"],
                "enabled": bool(row["enabled"]),
                "consecutive_failures": row["consecutive_failures"],
                "disabled_at": row["disabled_at"],
            }
            for row in rows
        ]

    def deliveries(self, *, limit: int = 50, bodies: bool = False) -> list[dict[str, Any]]:
        """The newest delivery log rows first."""
        columns = "delivery_id, attempted_at, endpoint_id, url, event, format, booking_code, attempt, status_code,"
        columns += " error, outcome, duration_ms" + (", body" if bodies else "")
        with self.store.read() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM webhook_deliveries ORDER BY delivery_id DESC LIMIT ?",  # noqa: S608
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]

    def state(self, *, limit: int = 50, bodies: bool = False) -> dict[str, Any]:
        endpoints = self.endpoints()
        urls = {event: next((e["url"] for e in endpoints if event in e["events"]), None) for event in EVENTS}
        queued = self._deliveries.pending()
        with self.store.read() as conn:
            rows = conn.execute("SELECT outcome, COUNT(*) FROM webhook_deliveries GROUP BY outcome").fetchall()
        outcomes = {str(outcome): int(n) for outcome, n in rows}
        return {
            "booking_url": urls["booking"],
            "transaction_url": urls["transaction"],
            "format": endpoints[0]["format"] if endpoints else None,
            "events": [event for event in EVENTS if urls[event]],
            "enabled": bool(endpoints) and all(e["enabled"] for e in endpoints),
            "consecutive_failures": max((e["consecutive_failures"] for e in endpoints), default=0),
            "endpoints": endpoints,
            "queued": queued,
            "totals": {k: outcomes.get(k, 0) for k in ("delivered", "failed", "skipped")},
            "backoff_base": self.backoff_base,
            "max_attempts": self.max_attempts,
            "deliveries": self.deliveries(limit=limit, bodies=bodies),
        }

    # --- publishing ------------------------------------------------------------------

    def publish(self, change: BookingChange) -> None:
        notifications: list[Notification] = []
        if change.transaction is not None:
            notifications.append(transaction_notification(change.transaction, change.booking["code"]))
        notifications.append(booking_notification(change.booking))
        for endpoint in self.endpoints():
            for notification in notifications:
                if notification.event not in endpoint["events"]:
                    continue
                delivery = _Delivery(
                    endpoint_id=endpoint["endpoint_id"],
                    url=endpoint["url"],
                    event=notification.event,
                    fmt=endpoint["format"],
                    booking_code=notification.booking_code,
                    body=notification.body(endpoint["format"]),
                    attempt=1,
                )
                if endpoint["enabled"]:
                    self._deliveries.put(delivery, due=time.monotonic())
                else:
                    self._log(delivery, status=None, error="webhook is disabled", outcome="skipped", duration=None)

    # --- the delivery thread -------------------------------------------------------------

    def _attempt(self, delivery: _Delivery) -> None:
        endpoint = next((e for e in self.endpoints() if e["endpoint_id"] == delivery.endpoint_id), None)
        if endpoint is None:
            self._log(delivery, status=None, error="webhook was reconfigured", outcome="skipped", duration=None)
            return
        if not endpoint["enabled"]:
            self._log(delivery, status=None, error="webhook is disabled", outcome="skipped", duration=None)
            return
        started = time.monotonic()
        status, error = self._post(delivery)
        duration = (time.monotonic() - started) * 1000
        delivered = status is not None and 200 <= status < 300
        with self.store.write() as conn:
            if delivered:
                conn.execute(
                    "UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE endpoint_id = ?",
                    (delivery.endpoint_id,),
                )
            else:
                # Checkfront disables a webhook after 5 consecutive failed deliveries.
                conn.execute(
                    "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,"
                    " enabled = CASE WHEN consecutive_failures + 1 >= ? THEN 0 ELSE enabled END,"
                    " disabled_at = CASE WHEN consecutive_failures + 1 >= ? THEN ? ELSE disabled_at END"
                    " WHERE endpoint_id = ?",
                    (self.disable_after, self.disable_after, time.time(), delivery.endpoint_id),
                )
            self._log(
                delivery, status=status, error=error, outcome="delivered" if delivered else "failed", duration=duration
            )
            still_enabled = conn.execute(
                "SELECT enabled FROM webhook_endpoints WHERE endpoint_id = ?", (delivery.endpoint_id,)
            ).fetchone()
        if delivered:
            return
        logger.info("webhook %s to %s failed (attempt %d): %s", delivery.event, delivery.url, delivery.attempt, error)
        if not (still_enabled and still_enabled[0]):
            logger.warning("webhook %s disabled after %d consecutive failures", delivery.url, self.disable_after)
            return
        if delivery.attempt < self.max_attempts:
            delay = backoff_delay(self.backoff_base, delivery.attempt)
            retry = replace(delivery, attempt=delivery.attempt + 1)
            self._deliveries.put(retry, due=time.monotonic() + delay)

    def _post(self, delivery: _Delivery) -> tuple[int | None, str | None]:
        """(status code, error text) for one POST; redirects are not followed."""
        parts = urlsplit(delivery.url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname or "", parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Content-Type": CONTENT_TYPES[delivery.fmt],
            "User-Agent": USER_AGENT,
            "Connection": "close",
        }
        try:
            connection.request("POST", path, body=delivery.body, headers=headers)
            response = connection.getresponse()
            response.read()
        except TimeoutError:
            return None, f"timed out after {self.timeout:g} s"
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
        return response.status, error

    def _log(
        self, delivery: _Delivery, *, status: int | None, error: str | None, outcome: str, duration: float | None
    ) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO webhook_deliveries (attempted_at, endpoint_id, url, event, format, booking_code, attempt,"
                " status_code, error, outcome, duration_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    delivery.endpoint_id,
                    delivery.url,
                    delivery.event,
                    delivery.fmt,
                    delivery.booking_code,
                    delivery.attempt if outcome != "skipped" else 0,
                    status,
                    error,
                    outcome,
                    None if duration is None else round(duration, 1),
                    delivery.body.decode("utf-8", "replace"),
                ),
            )
