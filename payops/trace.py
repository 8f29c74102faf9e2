"""The trace id that follows one inbound event from the inbox to the executor."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str] = ContextVar("payops_trace_id", default="")


def new_trace_id() -> str:
    return uuid.uuid4().hex


def current_trace_id() -> str:
    return _current.get()


@contextmanager
def bound_trace(trace_id: str) -> Iterator[str]:
    """Every log record written inside the block carries this trace id."""
    token = _current.set(trace_id)
    try:
        yield trace_id
    finally:
        _current.reset(token)


class TraceIdFilter(logging.Filter):
    """Adds `trace_id` to every record so formatters can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "trace_id", ""):
            record.trace_id = _current.get()
        return True
