"""Fixtures of the console's tests: the sample workflow's executions against a fake outside system."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from console import kinds
from payops import executors, review
from tests.console.queue_fixtures import FOLLOW_UP
from tests.payops.sample_workflow import ACTION, FakeOutsideSystem, make_executor, make_note_executor


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOutsideSystem]:
    """The sample action, its rejection follow-up and the notes, executed against a fake outside system."""
    system = FakeOutsideSystem()
    executors.executes(ACTION)(make_executor(system))
    executors.executes(FOLLOW_UP)(make_executor(system))
    monkeypatch.setitem(executors._EXECUTORS, review.NOTE, make_note_executor(system))
    monkeypatch.setattr(review, "_CHANGEABLE", dict(review._CHANGEABLE))
    review.changeable(ACTION, amount_minor=int)
    amount = kinds.ChangeInput("amount_minor", "Amount", "money")
    monkeypatch.setitem(kinds._BY_ACTION, ACTION, kinds.Presentation(approve_label="Send", inputs=(amount,)))
    yield system
    executors.unregister(ACTION)
    executors.unregister(FOLLOW_UP)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what a request queued on commit (the executions), as a worker would once the request's transaction ends."""

    def run(call: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run
