"""Reading Stripe's JSON: an object's id whether it came expanded or not, and an event's object."""

from __future__ import annotations

from typing import Any


def object_id(value: Any) -> str:
    """`"pi_123"` from `"pi_123"` or from `{"id": "pi_123", ...}`; empty for nothing."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def event_object(payload: dict[str, Any]) -> dict[str, Any]:
    """An event's `data.object` (empty when the payload has none)."""
    obj = payload.get("data", {}).get("object", {})
    return obj if isinstance(obj, dict) else {}
