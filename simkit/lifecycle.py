"""A simulator's running parts: answers counted by HTTP status, and a loop that does one step every N seconds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class RequestCounters:
    """API answers by HTTP status, for a simulator's stats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_status: dict[int, int] = {}

    def count(self, status: int) -> None:
        with self._lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"total": sum(self.by_status.values()), "by_status": {str(k): v for k, v in self.by_status.items()}}


class Ticker:
    """Calls `step` every `interval` seconds on a daemon thread, from start() until stop().

    An exception `step` lets out ends the loop: a caller that must keep going
    catches inside `step`.
    """

    def __init__(self, step: Callable[[], object], *, interval: float, name: str) -> None:
        self.step = step
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # Waiting on the event, the loop wakes at once rather than after its interval.
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.step()
