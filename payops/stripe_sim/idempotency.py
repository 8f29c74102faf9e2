"""Idempotency keys, as Stripe keeps them: the first answer is stored for 24 hours and replayed.

Same key, same endpoint, same parameters: the stored status and body come
back with `Idempotent-Replayed: true` and nothing runs again. Same key with
other parameters or another endpoint: 400 idempotency_error. A key whose first
request is still running: 409 (the client retries and then gets the replay).
Answers from parameter validation are not stored, as Stripe stores a result
only once the endpoint has begun executing. The 24 hours run on the simulated
clock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from payops.stripe_sim.clock import SimClock
from payops.stripe_sim.errors import IdempotencyError, IdempotencyInUse, InvalidRequest
from payops.stripe_sim.store import Store

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes
    request_id: str


def fingerprint(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, store: Store, clock: SimClock) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._running: set[str] = set()

    @contextmanager
    def reserve(self, key: str) -> Iterator[None]:
        """Hold the key while its request runs; a concurrent request with it gets Stripe's 409."""
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidRequest(f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters long.")
        with self._lock:
            if key in self._running:
                raise IdempotencyInUse(
                    "There is currently another in-progress request using this Idempotent Key (that probably means "
                    f"you submitted twice, and the other request is still going through): {key}. Please try again "
                    "later.",
                    code="idempotency_key_in_use",
                    headers={"Stripe-Should-Retry": "true"},
                )
            self._running.add(key)
        try:
            yield
        finally:
            with self._lock:
                self._running.discard(key)

    def lookup(self, key: str, *, method: str, path: str, params_fingerprint: str) -> Stored | None:
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT * FROM idempotency WHERE key = ? AND created > ?", (key, self.clock.now() - TTL_SECONDS)
            ).fetchone()
        if row is None:
            return None
        if (row["method"], row["path"]) != (method, path):
            raise IdempotencyError(
                "Keys for idempotent requests can only be used for the same endpoint they were first used for "
                f"('{row['method']} {row['path']}' vs '{method} {path}'). Try using a key other than '{key}' if you "
                "meant to execute a different request."
            )
        if row["fingerprint"] != params_fingerprint:
            raise IdempotencyError(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                f"Try using a key other than '{key}' if you meant to execute a different request."
            )
        return Stored(status=row["status"], body=row["body"].encode(), request_id=row["request_id"])

    def save(
        self, key: str, *, method: str, path: str, params_fingerprint: str, status: int, body: bytes, request_id: str
    ) -> None:
        now = self.clock.now()
        with self.store.write() as conn:
            conn.execute("DELETE FROM idempotency WHERE created <= ?", (now - TTL_SECONDS,))
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (key, method, path, fingerprint, status, body, request_id, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, method, path, params_fingerprint, status, body.decode(), request_id, now),
            )
