"""The API 3.0 response envelope around every answer, and the error envelope (request.status "ERROR").

`request.id` is present only when the path has one (as in the official
samples); `request.total_records` is always present. `time` is seconds spent.
Critical (credential) errors have no envelope: see CREDENTIALS_ERROR.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bookings.checkfront_sim.account import ACCOUNT_ID, API_VERSION, COMPANY_NAME, HOST_ID, LOCALE

# [doc] shape of the 2014 OAuth2 error; [assumed] answered with HTTP 401.
CREDENTIALS_ERROR = {"error": "invalid_request", "error_description": "The access token provided is invalid."}


@dataclass
class RequestInfo:
    """What the envelope's `request` object says about the call being answered."""

    resource: str
    path: list[str]
    method: str
    id: str | None = None
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class Paging:
    records: int
    total_records: int
    limit: int = 0
    page: int = 1
    pages: int = 1


def _request(info: RequestInfo, status: str, paging: Paging) -> dict[str, Any]:
    request: dict[str, Any] = {"status": status, "resource": info.resource}
    if info.id is not None:
        request["id"] = info.id
    request.update(
        {
            "path": info.path,
            "records": paging.records,
            "total_records": paging.total_records,
            "limit": paging.limit,
            "page": paging.page,
            "pages": paging.pages,
            "time": round(time.perf_counter() - info.started, 4),
            "timestamp": round(time.time(), 6),
            "method": info.method,
        }
    )
    return request


def _head() -> dict[str, Any]:
    return {
        "version": API_VERSION,
        "account_id": ACCOUNT_ID,
        "host_id": HOST_ID,
        "name": COMPANY_NAME,
        "locale": dict(LOCALE),
    }


def ok(info: RequestInfo, payload_key: str, payload: Any, paging: Paging | None = None) -> dict[str, Any]:
    if paging is None:
        count = len(payload) if isinstance(payload, dict | list) and payload_key not in _SINGLE else 1
        paging = Paging(records=count, total_records=count)
    return {**_head(), "request": _request(info, "OK", paging), payload_key: payload}


def error(info: RequestInfo, details: str) -> dict[str, Any]:
    body = {**_head(), "request": _request(info, "ERROR", Paging(records=0, total_records=0))}
    body["request"]["error"] = {"details": details}
    return body


# Payloads that are one object rather than a collection.
_SINGLE = frozenset({"booking", "customer", "item", "company", "pong", "note", "help"})
