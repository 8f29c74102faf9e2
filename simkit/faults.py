"""Fault rules in order: which one fires for a request (its share, its count), thread-safe and counted.

What a rule matches (path, method) and what a fired rule does to the answer
belong to each simulator; here is only the bookkeeping they share.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar


class Rule(Protocol):
    share: float  # the chance, 0 < share <= 1, that a matching request is hit
    count: int | None  # spent after this many hits; None: never
    rng: random.Random
    hits: int

    def describe(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Rule)


class FaultRules(Generic[R]):
    def __init__(self, parse: Callable[[Mapping[str, Any]], R]) -> None:
        """`parse` turns one rule spec into a rule, raising the simulator's own error on a bad one."""
        self._parse = parse
        self._lock = threading.Lock()
        self._rules: list[R] = []
        self.injected = 0

    def set_rules(self, specs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace the rules (an empty list turns faults off)."""
        rules = [self._parse(spec) for spec in specs]
        with self._lock:
            self._rules = rules
        return self.describe()

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def fire(self, matches: Callable[[R], bool]) -> R | None:
        """The first rule that matches and, by its share, fires; counted, and removed once its count is spent."""
        # One lock across the whole walk: concurrent requests never both take a count-1 rule's only hit.
        with self._lock:
            for rule in self._rules:
                if not matches(rule):
                    continue
                if rule.share < 1 and rule.rng.random() >= rule.share:
                    continue
                rule.hits += 1
                if rule.count is not None and rule.hits >= rule.count:
                    self._rules.remove(rule)
                self.injected += 1
                return rule
        return None
