"""The API's booking endpoints: index, detail, update, note, transact and notes.

Answers not documented by Checkfront, all [assumed]:
- `update` answers with the booking detail after the change (payload `booking`);
- `note` answers with the new note (payload `note`, the notes-list row shape);
  the body limit is 3000 characters, an empty body is refused; notes are
  private unless `private=0`; a note counts as a change to the booking;
- `transact` answers `transactions`, an object keyed by transaction id;
- `partner_id` is accepted, but the simulated account has no partners, so it
  matches nothing;
- a write endpoint called with GET answers 405 with the error envelope.
"""

from __future__ import annotations

import time

from bookings.checkfront_sim import records
from bookings.checkfront_sim.api_dates import DAY, parse_date_filter, parse_notes_date
from bookings.checkfront_sim.api_params import ApiRequest, integer, page_request, scalar
from bookings.checkfront_sim.booking_actions import BookingService, parse_flag
from bookings.checkfront_sim.envelope import Paging, RequestInfo, ok
from bookings.checkfront_sim.errors import MethodNotAllowed, NotFound
from bookings.checkfront_sim.resources import (
    booking_detail,
    booking_index_row,
    note_resource,
    transaction_resource,
)

Body = dict[str, object]

DATE_FILTERS = {
    "start_date": "start_date",
    "end_date": "end_date",
    "created_date": "created_date",
    "last_modified": "modified_at",
}
NOTES_DEFAULT_DAYS = 30


class BookingEndpoints:
    def __init__(self, service: BookingService) -> None:
        self.service = service
        self.store = service.store

    def handle(self, request: ApiRequest, info: RequestInfo) -> Body:
        parts = request.parts
        if len(parts) == 1 or (len(parts) == 2 and parts[1] == "index"):
            return self.index(request, info)
        if parts[1] == "notes" and len(parts) == 2:
            return self.notes(request, info)
        code = parts[1]
        if len(parts) == 2:
            return ok(info, "booking", booking_detail(self.service.booking(code)))
        action = parts[2] if len(parts) == 3 else ""
        if action == "transact":
            return self.transactions(code, info)
        if action in ("update", "note"):
            if request.method != "POST":
                raise MethodNotAllowed(f"booking/{{code}}/{action} needs POST")
            self.service.booking(code)  # an unknown booking is a 404 before any input is checked
            if action == "update":
                return ok(info, "booking", booking_detail(self.service.update_status(code, request.params)))
            private = parse_flag(request.params.get("private", "1"), name="private")
            note = self.service.add_note(code, request.params.get("body"), private=private)
            return ok(info, "note", note_resource(note))
        raise NotFound(f"booking/{'/'.join(parts[2:])} is not simulated")

    def index(self, request: ApiRequest, info: RequestInfo) -> Body:
        params = request.params
        paging = page_request(params)
        query = records.BookingQuery(
            status_id=scalar(params, "status_id"),
            customer_id=integer(params, "customer_id"),
            customer_email=scalar(params, "customer_email"),
            item_id=integer(params, "item_id"),
        )
        now = time.time()
        for name, column in DATE_FILTERS.items():
            raw = scalar(params, name)
            if raw is not None:
                query.dates[column] = parse_date_filter(raw, name=name, now=now)
        if scalar(params, "partner_id") is not None:
            return ok(info, "booking/index", {}, paging.paging(0, 0))
        with self.store.read() as conn:
            total, docs = records.query_bookings(conn, query, limit=paging.limit, offset=paging.offset)
        rows = {str(doc["booking_id"]): booking_index_row(doc) for doc in docs}
        return ok(info, "booking/index", rows, paging.paging(len(rows), total))

    def transactions(self, code: str, info: RequestInfo) -> Body:
        doc = self.service.booking(code)
        with self.store.read() as conn:
            found = records.booking_transactions(conn, doc["booking_id"])
        rows = {t["transaction_id"]: transaction_resource(t, code) for t in found}
        return ok(info, "transactions", rows)

    def notes(self, request: ApiRequest, info: RequestInfo) -> Body:
        now = time.time()
        raw = scalar(request.params, "date")
        since, until = parse_notes_date(raw, now=now) if raw else (now - NOTES_DEFAULT_DAYS * DAY, now + 1)
        with self.store.read() as conn:
            notes = [note_resource(n) for n in records.list_notes(conn, since=since, until=until)]
        return ok(info, "notes", notes, Paging(records=len(notes), total_records=len(notes)))
