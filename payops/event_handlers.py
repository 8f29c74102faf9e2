"""The registry from (source, event type) to the domain function that handles it."""

from __future__ import annotations

from collections.abc import Callable

from payops.models import InboundEvent

Handler = Callable[[InboundEvent], None]

_HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(source: str, *event_types: str) -> Callable[[Handler], Handler]:
    """Register a handler. It must be safe to run twice for the same event."""

    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            key = (source, event_type)
            if key in _HANDLERS and _HANDLERS[key] is not handler:
                raise ValueError(f"{source} {event_type} already has a handler: {_HANDLERS[key]!r}")
            _HANDLERS[key] = handler
        return handler

    return register


def unregister(source: str, *event_types: str) -> None:
    for event_type in event_types:
        _HANDLERS.pop((source, event_type), None)


def handler_for(source: str, event_type: str) -> Handler | None:
    return _HANDLERS.get((source, event_type))
