"""The simulated Checkfront API 3.0: routing under /api/3.0/, and the account, customer and item endpoints.

Booking endpoints are in api_bookings.py. Every answer is (HTTP status,
JSON body). Status codes Checkfront does not document are [assumed]: 400 for
bad input, 404 for an unknown booking, customer, item or resource, 405 for
a write called with GET, all with the error envelope.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from bookings.checkfront_sim import records
from bookings.checkfront_sim.account import TIMEZONE, company_profile
from bookings.checkfront_sim.api_bookings import BookingEndpoints
from bookings.checkfront_sim.api_params import ApiRequest, integer, page_request, parse_params, scalar
from bookings.checkfront_sim.booking_actions import BookingService
from bookings.checkfront_sim.envelope import RequestInfo, error, ok
from bookings.checkfront_sim.errors import NotFound, SimulatorError
from bookings.checkfront_sim.resources import category_resource, customer_resource, item_resource

Body = dict[str, Any]

API_PREFIX = "/api/3.0/"
HELP_RESOURCES = ["ping", "help", "company", "customer", "item", "category", "booking"]


class CheckfrontApi:
    def __init__(self, service: BookingService) -> None:
        self.store = service.store
        self.bookings = BookingEndpoints(service)

    def handle(
        self, *, method: str, path: str, query: str, body: bytes, content_type: str, remote_addr: str
    ) -> tuple[int, Body]:
        """Answer one call to `path` (below API_PREFIX): (HTTP status, JSON body)."""
        parts = [unquote(part) for part in path.split("/") if part]
        info = RequestInfo(
            resource=parts[0] if parts else "",
            path=parts,
            method=method.lower(),
            id=parts[1] if len(parts) > 1 else None,
        )
        try:
            params = parse_params(query, body, content_type)
            return 200, self._route(ApiRequest(method, parts, params, remote_addr), info)
        except SimulatorError as exc:
            return exc.status, error(info, str(exc))

    def _route(self, request: ApiRequest, info: RequestInfo) -> Body:
        resource, rest = info.resource, request.parts[1:]
        if resource == "booking":
            return self.bookings.handle(request, info)
        if resource == "ping" and not rest:
            now = int(time.time())
            return ok(
                info, "pong", {"remote_addr": request.remote_addr, "time": now, "timezone": TIMEZONE, "provider": "API"}
            )
        if resource == "help" and not rest:
            return ok(info, "help", {"resources": HELP_RESOURCES})
        if resource == "company" and not rest:
            return ok(info, "company", company_profile())
        if resource == "customer" and len(rest) <= 1:
            return self.customer(request, info, rest[0] if rest else None)
        if resource == "item" and len(rest) <= 1:
            return self.items(request, info, rest[0] if rest else None)
        if resource == "category" and not rest:
            return self.categories(info)
        raise NotFound(f"Unknown resource {'/'.join(request.parts) or '(none)'}")

    def customer(self, request: ApiRequest, info: RequestInfo, key: str | None) -> Body:
        with self.store.read() as conn:
            if key is not None:
                found = records.load_customer(conn, int(key) if key.isdigit() else key)
                if found is None:
                    raise NotFound(f"Customer {key} not found")
                bookings = records.customer_bookings(conn, found["customer_id"])
                last = bookings[-1][1] if bookings else None
                return ok(info, "customer", customer_resource(found, last_booking=last, bookings=bookings))
            params = request.params
            criteria: dict[str, Any] = {}
            customer_id = integer(params, "customer_id")
            if customer_id is not None:
                criteria["customer_id"] = customer_id
            for param, column in (("customer_email", "email"), ("customer_name", "name"), ("customer_phone", "phone")):
                value = scalar(params, param)
                if value is not None:
                    criteria[column] = value
            paging = page_request(params)
            total, found_all = records.search_customers(conn, criteria, limit=paging.limit, offset=paging.offset)
            last_dates = records.last_booking_dates(conn, [c["customer_id"] for c in found_all])
        rows = {c["code"]: customer_resource(c, last_booking=last_dates.get(c["customer_id"])) for c in found_all}
        return ok(info, "customers", rows, paging.paging(len(rows), total))

    def items(self, request: ApiRequest, info: RequestInfo, key: str | None) -> Body:
        with self.store.read() as conn:
            categories = {c["category_id"]: c["name"] for c in records.list_categories(conn)}
            if key is not None:
                item = records.load_item(conn, item_id=int(key)) if key.isdigit() else None
                if item is None:
                    raise NotFound(f"Item {key} not found")
                return ok(info, "item", item_resource(item, categories.get(item["category_id"], "")))
            items = records.list_items(conn)
        params = request.params
        category_id = integer(params, "category_id")
        wanted_ids = {part.strip() for part in (scalar(params, "item_id") or "").split(",") if part.strip()}
        keyword = (scalar(params, "keyword") or "").lower()
        rows = {
            str(item["item_id"]): item_resource(item, categories.get(item["category_id"], ""))
            for item in items
            if (category_id is None or item["category_id"] == category_id)
            and (not wanted_ids or str(item["item_id"]) in wanted_ids)
            and (not keyword or keyword in item["name"].lower() or keyword in item["summary"].lower())
        }
        return ok(info, "items", rows)

    def categories(self, info: RequestInfo) -> Body:
        with self.store.read() as conn:
            items = records.list_items(conn)
            categories = records.list_categories(conn)
        counts: dict[int, int] = {}
        for item in items:
            counts[item["category_id"]] = counts.get(item["category_id"], 0) + 1
        rows = {str(c["category_id"]): category_resource(c, counts.get(c["category_id"], 0)) for c in categories}
        return ok(info, "category", rows)
