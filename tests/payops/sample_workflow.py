"""A test-only workflow: proposes sending a reminder, executed against a fake outside system.

The fake system dedups writes by idempotency key, as Stripe does, so tests
can count what really happened outside.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from audit.models import Decision
from payops import executors, review
from payops.executors import ExecutionError
from payops.models import ReviewKind
from payops.policy_gate import Proposal

WORKFLOW = "sample"
ACTION = "sample.send_reminder"
# What rejecting a reminder carries out when a test registers it as the follow-up.
FOLLOW_UP = "sample.note_reminder_refused"


class FakeOutsideSystem:
    def __init__(self) -> None:
        self.writes: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.noted: set[str] = set()
        self.calls = 0
        self.fail_next: list[ExecutionError] = []

    def write(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        return self.writes.setdefault(key, {"id": f"obj_{len(self.writes) + 1}", **body})


def reminder_proposal(
    booking_id: str, *, amount_minor: int = 5000, currency: str = "usd", score: float = 10, confidence: float = 0.95
) -> Proposal:
    return Proposal(
        workflow=WORKFLOW,
        action=ACTION,
        review_kind=ReviewKind.OTHER,
        reason=f"booking {booking_id} has {amount_minor} {currency} due",
        reasons=["amount due", "no reminder sent yet"],
        params={"template": "balance_due"},
        score=score,
        confidence=confidence,
        model_version="sample-1",
        booking_id=booking_id,
        stripe_ids=[f"pi_{booking_id}"],
        amount_minor=amount_minor,
        currency=currency,
    )


def make_executor(outside: FakeOutsideSystem) -> Any:
    def send_reminder(decision: Decision) -> dict[str, Any]:
        obj = outside.write(decision.idempotency_key, {"booking": decision.booking_id})
        return {"object_id": obj["id"]}

    return send_reminder


def make_note_executor(outside: FakeOutsideSystem) -> Any:
    """The notes reviewers' answers leave on a booking, kept in order and once each."""

    def note(decision: Decision) -> dict[str, Any]:
        if str(decision.pk) not in outside.noted:
            outside.noted.add(str(decision.pk))
            outside.notes.append(str(decision.params["body"]))
        return {"noted": decision.booking_id}

    return note


def wired_to_fake_system(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOutsideSystem]:
    """The sample action, its follow-up and every answer's note, executed against a fake outside system.

    What a test registers with review (changeable params, follow-ups) stays with that test.
    """
    system = FakeOutsideSystem()
    executors.executes(ACTION)(make_executor(system))
    executors.executes(FOLLOW_UP)(make_executor(system))
    # The real note executor writes to Checkfront (tested against the simulator in tests/browser).
    monkeypatch.setitem(executors._EXECUTORS, review.NOTE, make_note_executor(system))
    monkeypatch.setattr(review, "_CHANGEABLE", dict(review._CHANGEABLE))
    monkeypatch.setattr(review, "_ON_REJECT", dict(review._ON_REJECT))
    review.changeable(ACTION, amount_minor=int)
    yield system
    executors.unregister(ACTION)
    executors.unregister(FOLLOW_UP)
