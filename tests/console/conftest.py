"""Fixtures of the console's tests: the sample workflow's executions against a fake outside system."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from console import kinds
from tests.payops.sample_workflow import ACTION, FakeOutsideSystem, wired_to_fake_system


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOutsideSystem]:
    """The sample workflow against a fake outside system, its amount changeable in the queue's form."""
    amount = kinds.ChangeInput("amount_minor", "Amount", "money")
    monkeypatch.setitem(kinds._BY_ACTION, ACTION, kinds.Presentation(approve_label="Send", inputs=(amount,)))
    yield from wired_to_fake_system(monkeypatch)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what a request queued on commit (the executions), as a worker would once the request's transaction ends."""

    def run(call: Any, *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run
