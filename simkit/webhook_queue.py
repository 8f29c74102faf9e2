"""The background delivery loop: a due-time queue drained by one thread, with wait_idle and exponential backoff.

What a delivery is, how it is sent and logged, and whether it is retried
belong to each simulator: the queue only calls `deliver` with each item once
it is due, oldest due first. The queue lives in memory: items still waiting
when it stops are dropped.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


def backoff_delay(base: float, attempt: int) -> float:
    """Seconds before the retry that follows failed attempt `attempt` (1-based): base × 2^(attempt−1)."""
    return base * 2 ** (attempt - 1)


class DeliveryQueue(Generic[T]):
    def __init__(self, deliver: Callable[[T], None], *, thread_name: str, join_timeout: float) -> None:
        """`deliver` runs on the queue's thread; an exception it lets out is logged, and the next item goes on."""
        self.deliver = deliver
        self.thread_name = thread_name
        self.join_timeout = join_timeout
        self._queue: list[tuple[float, int, T]] = []
        self._order = itertools.count()  # breaks ties between equal due times, oldest first
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Drop what is queued and wait (up to join_timeout) for the delivery in flight."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.join_timeout)
            self._thread = None

    def put(self, item: T, *, due: float) -> None:
        """Queue `item` for time.monotonic() `due`."""
        with self._cond:
            heapq.heappush(self._queue, (due, next(self._order), item))
            self._cond.notify_all()

    def pending(self) -> int:
        """Items queued or being delivered."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is queued or being sent (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                _, _, item = heapq.heappop(self._queue)
                # Counted in flight before the lock is let go, so wait_idle never sees a gap.
                self._in_flight += 1
            try:
                self.deliver(item)
            except Exception:
                # One broken delivery must not end every later one: the thread is
                # the simulator's only sender.
                logger.exception("%s: a delivery crashed; carrying on", self.thread_name)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()
