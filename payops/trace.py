"""The trace id that follows one inbound event from the inbox to the executor."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

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


def install_log_record_factory() -> None:
    """Stamp every log record with the trace id current where it was created."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "payops_trace", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.trace_id = _current.get()
        return record

    factory.payops_trace = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class TraceIdFilter(logging.Filter):
    """Makes sure `trace_id` exists (records made before the factory was installed)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id = _current.get()
        return True
