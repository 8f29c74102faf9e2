"""Activity mode for demos: every N seconds a booking is created, modified, paid or refunded (webhooks fire)."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from bookings.checkfront_sim.api_dates import DAY, day_start
from bookings.checkfront_sim.booking_actions import BookingService
from bookings.checkfront_sim.errors import SimulatorError
from bookings.checkfront_sim.seed_data import FIRST_NAMES, HOTELS, LAST_NAMES
from simkit.lifecycle import Ticker

logger = logging.getLogger(__name__)

# (action, weight)
ACTIONS = (("create", 35), ("modify", 20), ("pay", 35), ("refund", 10))
_RECENT = 300


class ActivityLoop:
    def __init__(self, service: BookingService, *, interval: float, seed: int | None = None) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.service = service
        self.interval = interval
        self.rng = random.Random(seed)
        self.counts: dict[str, int] = {name: 0 for name, _ in ACTIONS}
        self.errors = 0
        self._ticker = Ticker(self.step, interval=interval, name="checkfront-sim-activity")

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def describe(self) -> dict[str, Any]:
        return {"running": self._ticker.running, "interval": self.interval, "actions": dict(self.counts)}

    def step(self) -> str:
        """Do one random action; returns its name. Refused actions are logged and counted, never fatal."""
        action = self.rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0]
        try:
            done = getattr(self, f"_{action}")()
        except SimulatorError as exc:
            self.errors += 1
            logger.info("activity %s refused: %s", action, exc)
            return action
        if done:
            self.counts[action] += 1
        return action

    def _recent(self, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        marks = ", ".join("?" for _ in statuses)
        with self.service.store.read() as conn:
            rows = conn.execute(
                f"SELECT code FROM bookings WHERE status_id IN ({marks}) ORDER BY booking_id DESC LIMIT ?",  # noqa: S608
                (*statuses, _RECENT),
            ).fetchall()
        return [self.service.booking(row[0]) for row in self.rng.sample(rows, min(3, len(rows)))]

    def _create(self) -> bool:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email_name = "".join(ch for ch in f"{first}.{last}".lower() if ch.isascii() and (ch.isalnum() or ch == "."))
        with self.service.store.read() as conn:
            items = [row[0] for row in conn.execute("SELECT item_id FROM items")]
        if not items:
            return False
        start = day_start(time.time()) + rng.randint(1, 60) * DAY + rng.choice([9, 13, 15]) * 3600
        ip = ".".join(
            str(n) for n in (rng.choice([24, 70, 142]), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
        )
        self.service.create_booking(
            {
                "customer": {"name": f"{first} {last}", "email": f"{email_name}@example.com", "country": "CA"},
                "items": [{"item_id": rng.choice(items), "qty": rng.randint(1, 4)}],
                "start_date": start,
                "status_id": rng.choice(["PEND", "HOLD"]),
                "currency": rng.choice(["CAD", "CAD", "CAD", "USD", "EUR"]),
                "source_ip": ip,
                "fields": {"party_size": str(rng.randint(1, 4)), "hotel_pickup": rng.choice(HOTELS)},
            }
        )
        return True

    def _modify(self) -> bool:
        for doc in self._recent(("PEND", "HOLD", "CONF", "WAIT")):
            status = self.rng.choice([s for s in ("PEND", "HOLD", "CONF", "WAIT", "STOP") if s != doc["status_id"]])
            self.service.modify_booking(doc["code"], {"status_id": status})
            return True
        return False

    def _pay(self) -> bool:
        for doc in self._recent(("PEND", "HOLD", "PART", "CONF")):
            due = doc["total"] - doc["paid_total"]
            if due > 0:
                amount = due if self.rng.random() < 0.6 or doc["paid_total"] else max(100, due // 3)
                self.service.record_payment(doc["code"], amount_minor=min(amount, due))
                return True
        return False

    def _refund(self) -> bool:
        for doc in self._recent(("PAID", "PART")):
            if doc["paid_total"] > 0:
                amount = doc["paid_total"] if self.rng.random() < 0.5 else max(1, doc["paid_total"] // 2)
                self.service.record_payment(doc["code"], amount_minor=amount, status="REFUND")
                return True
        return False
