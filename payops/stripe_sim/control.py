"""The control API under /_sim/ (not part of Stripe): clock, scripted declines, 3DS, disputes, webhooks, faults.

JSON bodies (form-encoded bodies are read too, as `codes[]=a&codes[]=b`), JSON
answers, no authentication, loopback callers only. Each route calls the
StripeSimulator method of the same name; README.md lists them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from payops.stripe_sim.errors import StripeError
from payops.stripe_sim.params import parse_form

if TYPE_CHECKING:
    from payops.stripe_sim.simulator import StripeSimulator

PREFIX = "/_sim/"


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _body(body: bytes, content_type: str) -> dict[str, Any]:
    if not body.strip():
        return {}
    if "json" in content_type or body.lstrip().startswith(b"{"):
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ControlError(f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ControlError("body must be a JSON object")
        return data
    return parse_form(body.decode("utf-8", "replace"))


def _number(data: Mapping[str, Any], name: str, default: Any = None, kind: type = int) -> Any:
    value = data.get(name, default)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ControlError(f"{name} must be a number, not {value!r}") from exc


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ControlError(f"expected true or false, not {value!r}")


class ControlApi:
    def __init__(self, sim: StripeSimulator) -> None:
        self.sim = sim

    def handle(self, *, method: str, path: str, query: str, body: bytes, content_type: str = "") -> tuple[int, Any]:
        parts = [unquote(p) for p in path[len(PREFIX) :].split("/") if p]
        try:
            return 200, self._route(method, parts, parse_qs(query), _body(body, content_type))
        except ControlError as exc:
            return exc.status, {"error": str(exc)}
        except StripeError as exc:
            return exc.status, {"error": exc.message, "param": exc.param}
        except ValueError as exc:
            return 400, {"error": str(exc)}

    def _route(self, method: str, parts: list[str], query: dict[str, list[str]], data: dict[str, Any]) -> Any:
        sim = self.sim
        head = parts[0] if parts else ""
        shape = (method, head, len(parts))
        if shape == ("GET", "stats", 1):
            return sim.stats()
        if shape == ("POST", "reset", 1):
            sim.reset()
            return {"reset": True}
        if shape == ("GET", "clock", 1):
            return sim.clock_state()
        if method == "POST" and parts == ["clock", "advance"]:
            return sim.advance_clock(_number(data, "seconds", None, float) or 0)
        if shape == ("GET", "webhooks", 1):
            return sim.webhook_state(limit=int(query.get("limit", ["50"])[-1]))
        if shape == ("POST", "webhooks", 1):
            return self._webhooks(data)
        if shape == ("GET", "scripts", 1):
            return sim.scripts()
        if (
            method == "POST"
            and len(parts) == 3
            and parts[2] == "declines"
            and head in ("payment_methods", "fingerprints")
        ):
            codes = data.get("codes")
            if isinstance(codes, str):
                codes = [codes]
            if not isinstance(codes, list):
                raise ControlError("codes must be a list of decline codes, e.g. codes[]=insufficient_funds")
            queue = sim.script_declines(
                parts[1],
                [str(c) for c in codes],
                advice_code=data.get("advice_code"),
                network_advice_code=data.get("network_advice_code"),
                network_decline_code=data.get("network_decline_code"),
            )
            return {"target": parts[1], "queue": queue}
        if shape == ("POST", "risk", 1):
            level = data.get("risk_level")
            if not level:
                raise ControlError("risk_level is required: normal, elevated or highest")
            return {
                "queue": sim.script_risk(str(level), score=_number(data, "risk_score"), count=_number(data, "count", 1))
            }
        if shape == ("POST", "restricted_keys", 1):
            permissions = data.get("permissions") or []
            if isinstance(permissions, str):
                permissions = [permissions]
            return sim.add_restricted_key(str(data.get("key", "")), [str(p) for p in permissions])
        if shape == ("POST", "radar", 1):
            return sim.set_radar(block_highest_risk=_flag(data.get("block_highest_risk", True)))
        if method == "POST" and len(parts) == 3 and parts[2] == "authenticate":
            success = str(data.get("outcome", "success")) == "success"
            if head == "payment_intents":
                return sim.authenticate_payment_intent(parts[1], success=success)
            if head == "setup_intents":
                return sim.authenticate_setup_intent(parts[1], success=success)
        if method == "POST" and len(parts) == 3 and (head, parts[2]) == ("disputes", "resolve"):
            return sim.resolve_dispute(parts[1], str(data.get("outcome", "")))
        if method == "POST" and len(parts) == 3 and (head, parts[2]) == ("refunds", "fail"):
            return sim.fail_refund(parts[1])
        if method == "POST" and len(parts) == 3 and (head, parts[2]) == ("events", "resend"):
            return {"queued": sim.resend_event(parts[1])}
        if shape in (("GET", "faults", 1), ("POST", "faults", 1)):
            if method == "POST":
                if data.get("off") or not data:
                    sim.clear_faults()
                else:
                    rules = data["rules"] if "rules" in data else [data]
                    if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
                        raise ControlError("rules must be a list of objects")
                    sim.set_faults(*rules)
            return {"rules": sim.faults.describe(), "injected": sim.faults.injected}
        if shape == ("POST", "activity", 1):
            interval = _number(data, "interval", None, float)
            if interval is not None and not (math.isfinite(interval) and interval > 0):
                raise ControlError("interval must be a positive, finite number of seconds (or null to stop)")
            if interval:
                return sim.start_activity(interval, seed=_number(data, "seed"))
            sim.stop_activity()
            return sim.stats()["activity"]
        raise ControlError(f"no control route {method} {PREFIX}{'/'.join(parts)}", status=404)

    def _webhooks(self, data: dict[str, Any]) -> Any:
        unknown = set(data) - {"url", "secret", "events", "enabled"}
        if unknown:
            raise ControlError(f"unknown keys: {', '.join(sorted(unknown))}")
        if "url" in data:
            events = data.get("events") or ["*"]
            if isinstance(events, str):
                events = [events]
            self.sim.configure_webhook(str(data["url"]), secret=data.get("secret"), events=tuple(events))
        if "enabled" in data:
            if _flag(data["enabled"]):
                self.sim.enable_webhooks()
            else:
                self.sim.disable_webhooks()
        return self.sim.webhook_state()
