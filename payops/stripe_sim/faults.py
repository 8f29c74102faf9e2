"""Fault injection for /v1/ calls: answer 429 / 500 / 502 / 503 / 504, or hang, on a share or the next N calls.

A rule: {"status": 503, "share": 0.5} fails half the calls;
{"status": 429, "count": 2} the next two (Stripe's rate-limit body);
{"stall_seconds": 12, "count": 1} holds the next call 12 s, then answers it
normally (the write still happens: a client that timed out must retry with
the same idempotency key); stall and status together stall, then fail.
"after": true runs the request first and then stalls and/or fails in place of
its answer: the write happened at Stripe but the caller never hears it (a
proxy's 502, a timeout after commit), the case idempotency keys exist for.
"retry_after" adds a Retry-After header (seconds) to the error.
"path_prefix" (default /v1/) and "method" limit a rule; "seed" makes a share
repeatable; "should_retry" sets the Stripe-Should-Retry header (default true
for 429 and 503, absent otherwise). Rules are checked in order, the first that
fires applies, and a rule with a count is spent after that many hits. Faults
come before authentication; the control API is never faulted.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from payops.stripe_sim.errors import ApiError, RateLimited, StripeError
from simkit.faults import FaultRules

FAULT_STATUSES = (429, 500, 502, 503, 504)
_KEYS = frozenset(
    {
        "status",
        "share",
        "count",
        "stall_seconds",
        "path_prefix",
        "method",
        "seed",
        "should_retry",
        "after",
        "retry_after",
    }
)


@dataclass
class FaultRule:
    status: int | None = None
    share: float = 1.0
    count: int | None = None
    stall_seconds: float = 0.0
    path_prefix: str = "/v1/"
    method: str | None = None
    should_retry: bool | None = None
    after: bool = False
    retry_after: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)
    hits: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in (
                "status",
                "share",
                "count",
                "stall_seconds",
                "path_prefix",
                "method",
                "should_retry",
                "after",
                "retry_after",
                "hits",
            )
        }


@dataclass(frozen=True)
class Fault:
    """What to do to one request: stall first, then (if status) fail with `error`; `after`: once it has run."""

    stall_seconds: float
    error: StripeError | None
    after: bool = False


def fault_error(status: int, should_retry: bool | None, retry_after: int | None = None) -> StripeError:
    if should_retry is None:
        should_retry = True if status in (429, 503) else None
    headers = {} if should_retry is None else {"Stripe-Should-Retry": "true" if should_retry else "false"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 429:
        error: StripeError = RateLimited(
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            code="rate_limit",
            headers=headers,
        )
    else:
        error = ApiError(
            "An unknown error occurred" if status == 500 else "Stripe is temporarily unavailable. Please try again.",
            headers=headers,
        )
        error.status = status
    return error


def parse_rule(spec: Mapping[str, Any]) -> FaultRule:
    unknown = set(spec) - _KEYS
    if unknown:
        raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
    try:
        status = int(spec["status"]) if spec.get("status") is not None else None
        share = float(spec.get("share", 1.0))
        count = int(spec["count"]) if spec.get("count") is not None else None
        stall = float(spec.get("stall_seconds") or 0)
        retry_after = int(spec["retry_after"]) if spec.get("retry_after") is not None else None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad fault rule: {exc}") from exc
    if status is not None and status not in FAULT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(map(str, FAULT_STATUSES))}")
    if status is None and stall <= 0:
        raise ValueError("a fault rule needs a status, stall_seconds or both")
    if not 0 < share <= 1:
        raise ValueError("share must be more than 0 and at most 1")
    if count is not None and count < 1:
        raise ValueError("count must be at least 1")
    if not 0 <= stall <= 300:
        raise ValueError("stall_seconds must be between 0 and 300")
    prefix = str(spec.get("path_prefix") or "/v1/")
    if not prefix.startswith("/"):
        raise ValueError("path_prefix must start with /")
    method = str(spec["method"]).upper() if spec.get("method") else None
    should_retry = spec.get("should_retry")
    if should_retry is not None and not isinstance(should_retry, bool):
        raise ValueError("should_retry must be true, false or null")
    after = spec.get("after", False)
    if not isinstance(after, bool):
        raise ValueError("after must be true or false")
    if retry_after is not None and (status is None or not 0 <= retry_after <= 3600):
        raise ValueError("retry_after needs a status and must be between 0 and 3600 seconds")
    return FaultRule(
        status,
        share,
        count,
        stall,
        prefix,
        method,
        should_retry,
        after,
        retry_after,
        rng=random.Random(spec.get("seed")),
    )


class FaultInjector(FaultRules[FaultRule]):
    def __init__(self) -> None:
        super().__init__(parse_rule)

    def check(self, method: str, path: str) -> Fault | None:
        rule = self.fire(lambda rule: path.startswith(rule.path_prefix) and (not rule.method or rule.method == method))
        if rule is None:
            return None
        error = fault_error(rule.status, rule.should_retry, rule.retry_after) if rule.status else None
        return Fault(stall_seconds=rule.stall_seconds, error=error, after=rule.after)
