"""Fault injection for /api/3.0/ calls: fail with 500/502/503/429 or stall, on a share or the next N calls.

A rule: {"status": 503, "share": 0.5} fails half the calls;
{"status": 429, "count": 3, "retry_after": 2} the next three with Retry-After;
{"stall_seconds": 3, "count": 1} delays the next call by 3 s, then answers normally;
stall and status together stall and then fail. "path_prefix"
("/api/3.0/booking") and "method" ("POST") limit a rule to matching calls;
"seed" makes a share repeatable. "after": true lets the call run first and
then stalls and/or fails in place of its answer: the write happened but the
caller never heard (Checkfront has no idempotency key, so this is the case a
client must not repeat blindly). Rules are checked in order; the first that fires applies. A
rule with a count is spent after that many hits. Injected failures come
before authentication, as an overloaded proxy would answer, and bodies are
not the JSON envelope: clients must cope with that.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bookings.checkfront_sim.errors import InvalidInput
from simkit.faults import FaultRules

FAULT_STATUSES = (429, 500, 502, 503)
_KEYS = frozenset(
    {"status", "share", "count", "stall_seconds", "retry_after", "path_prefix", "method", "after", "seed"}
)


@dataclass
class FaultRule:
    status: int | None = None
    share: float = 1.0
    count: int | None = None
    stall_seconds: float = 0.0
    retry_after: int | None = None
    path_prefix: str = "/api/3.0/"
    method: str | None = None
    after: bool = False
    rng: random.Random = field(default_factory=random.Random, repr=False)
    hits: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "share": self.share,
            "count": self.count,
            "stall_seconds": self.stall_seconds,
            "retry_after": self.retry_after,
            "path_prefix": self.path_prefix,
            "method": self.method,
            "after": self.after,
            "hits": self.hits,
        }


@dataclass(frozen=True)
class Fault:
    """What to do to one request: stall first, then (if status) fail; `after`: once the request has run."""

    status: int | None
    stall_seconds: float
    retry_after: int | None
    after: bool = False


def parse_rule(spec: Mapping[str, Any]) -> FaultRule:
    unknown = set(spec) - _KEYS
    if unknown:
        raise InvalidInput(f"unknown fault keys: {', '.join(sorted(unknown))}")
    try:
        status = int(spec["status"]) if spec.get("status") is not None else None
        share = float(spec.get("share", 1.0))
        count = int(spec["count"]) if spec.get("count") is not None else None
        stall = float(spec.get("stall_seconds") or 0)
        retry_after = int(spec["retry_after"]) if spec.get("retry_after") is not None else None
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"bad fault rule: {exc}") from exc
    if status is not None and status not in FAULT_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(map(str, FAULT_STATUSES))}")
    if status is None and stall <= 0:
        raise InvalidInput("a fault rule needs a status, stall_seconds or both")
    if not 0 < share <= 1:
        raise InvalidInput("share must be more than 0 and at most 1")
    if count is not None and count < 1:
        raise InvalidInput("count must be at least 1")
    if not 0 <= stall <= 120:
        raise InvalidInput("stall_seconds must be between 0 and 120")
    if status == 429 and retry_after is None:
        retry_after = 1
    prefix = str(spec.get("path_prefix") or "/api/3.0/")
    if not prefix.startswith("/"):
        raise InvalidInput("path_prefix must start with /")
    after = spec.get("after", False)
    if not isinstance(after, bool):
        raise InvalidInput("after must be true or false")
    seed = spec.get("seed")
    return FaultRule(
        status=status,
        share=share,
        count=count,
        stall_seconds=stall,
        retry_after=retry_after,
        path_prefix=prefix,
        method=str(spec["method"]).upper() if spec.get("method") else None,
        after=after,
        rng=random.Random(seed),
    )


class FaultInjector(FaultRules[FaultRule]):
    def __init__(self) -> None:
        super().__init__(parse_rule)

    def check(self, path: str, method: str = "GET") -> Fault | None:
        rule = self.fire(lambda rule: path.startswith(rule.path_prefix) and rule.method in (None, method))
        if rule is None:
            return None
        return Fault(
            status=rule.status, stall_seconds=rule.stall_seconds, retry_after=rule.retry_after, after=rule.after
        )
