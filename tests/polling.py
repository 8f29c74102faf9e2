"""Waiting for work that crosses threads and sockets (webhook deliveries, the dispatcher)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(check: Callable[[], Any], timeout: float = 10) -> bool:
    """Poll `check` until it is truthy or the deadline passes; the last answer decides."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())
