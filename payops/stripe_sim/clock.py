"""The simulated clock: wall time plus an offset that /_sim/clock/advance moves forward.

Everything with a Stripe timestamp reads time here (created, due_by,
authorization expiry, idempotency key age), so a test can jump a week ahead.
Webhook signatures use wall time instead: the receiver checks them against its
own clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SimClock:
    def __init__(self, offset: float = 0.0, *, wall: Callable[[], float] = time.time) -> None:
        self._offset = offset
        self._wall = wall
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def now(self) -> int:
        """Unix seconds, as Stripe's `created` fields."""
        with self._lock:
            return int(self._wall() + self._offset)

    def advance(self, seconds: float) -> int:
        """Move forward (never back: Stripe's timestamps only grow); returns the new now()."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()
