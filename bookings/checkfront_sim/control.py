"""The control API under /_sim/ (not part of Checkfront): reset, make bookings happen, webhooks, faults, stats.

JSON in and out, no authentication, loopback callers only. Each route calls
the same method of CheckfrontSimulator that in-process tests use; README.md
lists the routes and bodies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from bookings.checkfront_sim.errors import InvalidInput, NotFound, SimulatorError

if TYPE_CHECKING:
    from bookings.checkfront_sim.simulator import CheckfrontSimulator

PREFIX = "/_sim/"


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object")
    return data


def _number(data: Mapping[str, Any], name: str, default: Any, kind: type[int] | type[float] = int) -> Any:
    value = data.get(name, default)
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be a number, not {value!r}") from exc


def _flag(query: dict[str, list[str]], name: str) -> bool:
    return query.get(name, ["0"])[-1].lower() in ("1", "true", "yes")


def _limit(query: dict[str, list[str]]) -> int:
    raw = query.get("limit", ["50"])[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise InvalidInput("limit must be a whole number from 1 to 10000")
    return int(raw)


class ControlApi:
    def __init__(self, sim: CheckfrontSimulator) -> None:
        self.sim = sim

    def handle(self, *, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        parts = [unquote(p) for p in path[len(PREFIX) :].split("/") if p]
        try:
            return 200, self._route(method, parts, parse_qs(query), body)
        except SimulatorError as exc:
            return exc.status, {"error": str(exc)}

    def _route(self, method: str, parts: list[str], query: dict[str, list[str]], body: bytes) -> Any:
        sim = self.sim
        route = (method, parts[0] if parts else "", len(parts))
        if route == ("POST", "reset", 1):
            data = _json_object(body)
            summary = sim.reset(
                bookings=_number(data, "bookings", 0),
                seed=_number(data, "seed", 1),
                anchor=_number(data, "anchor", None, float),
            )
            return {"reset": True, "seeded": summary.__dict__ if summary else None}
        if route == ("POST", "bookings", 1):
            return {"booking": sim.create_booking(_json_object(body))}
        if route == ("GET", "bookings", 2):
            return {"booking": sim.booking(parts[1])}
        if method == "POST" and len(parts) == 3 and parts[0] == "bookings":
            return self._booking_action(parts[1], parts[2], _json_object(body))
        if route == ("GET", "webhooks", 1):
            return sim.webhook_state(limit=_limit(query), bodies=_flag(query, "bodies"))
        if route == ("POST", "webhooks", 1):
            return self._webhooks(_json_object(body))
        if route == ("GET", "faults", 1):
            return {"rules": sim.faults.describe(), "injected": sim.faults.injected}
        if route == ("POST", "faults", 1):
            data = _json_object(body)
            if data.get("off") or not data:
                sim.clear_faults()
            else:
                rules = data["rules"] if "rules" in data else [data]
                if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
                    raise InvalidInput("rules must be a list of objects")
                sim.set_faults(*rules)
            return {"rules": sim.faults.describe(), "injected": sim.faults.injected}
        if route == ("POST", "activity", 1):
            interval = _number(_json_object(body), "interval", None, float)
            if interval is not None and interval < 0.01:
                raise InvalidInput("interval must be at least 0.01 seconds")
            if interval:
                sim.start_activity(interval)
            else:
                sim.stop_activity()
            return sim.stats()["activity"]
        if route == ("GET", "stats", 1):
            return sim.stats()
        raise NotFound(f"no control route {method} {PREFIX}{'/'.join(parts)}")

    def _booking_action(self, code: str, action: str, data: dict[str, Any]) -> Any:
        if action == "modify":
            return {"booking": self.sim.modify_booking(code, data)}
        if action == "payments":
            if "amount" not in data:
                raise InvalidInput('amount is required, e.g. "12.00"')
            allowed = {"amount", "status", "gateway_id", "transaction_id", "payment_type", "payment_mask"}
            unknown = set(data) - allowed
            if unknown:
                raise InvalidInput(f"unknown payment keys: {', '.join(sorted(unknown))}")
            if not isinstance(data["amount"], str | int | float) or isinstance(data["amount"], bool):
                raise InvalidInput('amount must be a decimal string such as "12.00"')
            return self.sim.add_payment(
                code, **{k: v if k == "amount" or v is None else str(v) for k, v in data.items()}
            )
        if action == "notes":
            return {"note": self.sim.add_note(code, data.get("body"), private=bool(data.get("private", True)))}
        raise NotFound(f"no booking action {action!r}: use modify, payments or notes")

    def _webhooks(self, data: dict[str, Any]) -> Any:
        sim = self.sim
        config_keys = {"url", "booking_url", "transaction_url", "format", "events"}
        if set(data) - config_keys - {"enabled"}:
            raise InvalidInput(f"unknown keys: {', '.join(sorted(set(data) - config_keys - {'enabled'}))}")
        if config_keys & set(data):
            # Keys left out keep their current value; null removes a URL.
            current = sim.webhook_state(limit=0)
            url_given = "url" in data
            events = data.get("events", current["events"] or ("booking", "transaction"))
            if not isinstance(events, list | tuple):
                raise InvalidInput('events must be a list such as ["booking", "transaction"]')
            if url_given and "events" not in data:
                events = ("booking", "transaction")
            sim.configure_webhooks(
                booking_url=data.get("booking_url", data["url"] if url_given else current["booking_url"]),
                transaction_url=data.get("transaction_url", data["url"] if url_given else current["transaction_url"]),
                format=str(data.get("format", current["format"] or "json")),
                events=tuple(str(e) for e in events),
            )
        if "enabled" in data:
            if data["enabled"]:
                sim.enable_webhooks()
            else:
                sim.disable_webhooks()
        return sim.webhook_state()
