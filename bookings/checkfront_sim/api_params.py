"""Reading API parameters: the request as the handlers see it, paging (limit/page) and integers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from bookings.checkfront_sim.envelope import Paging
from bookings.checkfront_sim.errors import InvalidInput
from bookings.php_forms import parse_php_query

DEFAULT_LIMIT = 100
# [assumed] Checkfront documents the default (100) but no maximum; larger
# limits are cut to 250 rather than refused.
MAX_LIMIT = 250


@dataclass(frozen=True)
class ApiRequest:
    method: str  # "GET" or "POST"
    parts: list[str]  # the path after /api/3.0/, split on "/"
    params: dict[str, Any]  # query string and body merged; the body wins, as PHP's $_REQUEST
    remote_addr: str


def parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Query string and body as one dict. Bodies are PHP-style forms; JSON objects are accepted too [design]."""
    params = parse_php_query(query)
    if not body:
        return params
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("body is not UTF-8") from exc
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput("a JSON body must be an object")
        params.update(data)
    else:
        params.update(parse_php_query(text))
    return params


def scalar(params: dict[str, Any], name: str) -> str | None:
    """A parameter as text; None when absent or blank. PHP arrays (`a[]=`) are refused."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise InvalidInput(f"{name} must be a single value")
    text = str(value).strip()
    return text or None


def integer(params: dict[str, Any], name: str, *, minimum: int = 0) -> int | None:
    text = scalar(params, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number, not {text!r}") from exc
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class PageRequest:
    limit: int
    page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def paging(self, records: int, total: int) -> Paging:
        return Paging(
            records=records,
            total_records=total,
            limit=self.limit,
            page=self.page,
            pages=max(1, math.ceil(total / self.limit)),
        )


def page_request(params: dict[str, Any]) -> PageRequest:
    limit = integer(params, "limit", minimum=1)
    page = integer(params, "page", minimum=1)
    return PageRequest(limit=min(limit or DEFAULT_LIMIT, MAX_LIMIT), page=page or 1)
