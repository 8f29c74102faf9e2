"""Signal receivers of the disputes workflow: thin, no network I/O; they record, and executions run on commit."""

from __future__ import annotations

from typing import Any

from disputes import cases
from payops import stripe_signals


def _current(stripe_object: dict[str, Any], mirrored: Any) -> dict[str, Any]:
    """The dispute as Stripe shows it now (the mirror was just re-read); the event's copy if the mirror has none."""
    data = getattr(mirrored, "stripe_data", None)
    return dict(data) if isinstance(data, dict) and data.get("id") == stripe_object.get("id") else stripe_object


def on_dispute_opened(sender: Any, *, stripe_object: dict[str, Any], mirrored: Any = None, **kwargs: Any) -> None:
    if stripe_object.get("object") != "dispute":
        return
    cases.open_case(_current(stripe_object, mirrored))


def on_dispute_closed(sender: Any, *, stripe_object: dict[str, Any], mirrored: Any = None, **kwargs: Any) -> None:
    if stripe_object.get("object") != "dispute":
        return
    cases.record_outcome(_current(stripe_object, mirrored))


def connect() -> None:
    stripe_signals.dispute_opened.connect(on_dispute_opened, dispatch_uid="disputes.opened")
    stripe_signals.dispute_closed.connect(on_dispute_closed, dispatch_uid="disputes.closed")
