"""What can happen to a simulated booking: create, modify, pay or refund, update status, add a note.

Every entry point (the API, the control API, the Python API, activity mode)
goes through BookingService, so each write bumps `modified_at` and announces
the change the same way. Each method does its read-modify-write in one store
transaction and publishes only after it commits, so a webhook never describes
a change that was rolled back.

The booking document kept in the store:
    booking_id, code, status_id, created_date, modified_at (float),
    currency_id, token, source_ip, tid, staff_id,
    customer {customer_id, code, name, email, phone, address, city, region, country, postal_zip},
    fields {custom form fields}, note (the customer's note),
    lines [{line_id, item_id, sku, name, qty, param, start_date, end_date,
            sub_total, tax_total, total, taxes {tax_id: amount}}],
    sub_total, tax_total, discount, total, paid_total (minor units), taxes, start_date, end_date, summary.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bookings.checkfront_sim import identifiers, records
from bookings.checkfront_sim.account import (
    ACCOUNT_CURRENCY,
    API_STAFF_ACCOUNT_ID,
    CANCELLED_STATUSES,
    CURRENCY_RATES,
    STATUSES,
)
from bookings.checkfront_sim.api_dates import DAY, day_start, parse_when
from bookings.checkfront_sim.errors import InvalidInput, NotFound
from bookings.checkfront_sim.pricing import apply_totals, price_line
from bookings.checkfront_sim.store import Store

Doc = dict[str, Any]

NOTE_MAX_CHARS = 3000
# Custom field ids are slugs: they become XML element names in webhooks.
FIELD_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_CUSTOMER_TEXT_KEYS = ("phone", "address", "city", "region", "postal_zip")
_MODIFIABLE = frozenset({"status_id", "fields", "start_date", "end_date", "items", "note"})


@dataclass(frozen=True)
class BookingChange:
    """A committed change to announce: Booking Modified, preceded by New Payment/Refund if `transaction`."""

    booking: Doc
    transaction: Doc | None = None


def parse_flag(value: Any, *, name: str) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise InvalidInput(f"{name} must be 0 or 1, not {value!r}")


def _status(status_id: Any) -> str:
    if not isinstance(status_id, str) or status_id not in STATUSES:
        raise InvalidInput(f"Invalid status_id {status_id!r}: use one of {', '.join(STATUSES)}")
    return status_id


class BookingService:
    def __init__(
        self,
        store: Store,
        publish: Callable[[BookingChange], None],
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.publish = publish
        self.clock = clock
        self.rng = rng or random.Random()
        self.customer_notifications = 0

    # --- reads -------------------------------------------------------------------

    def booking(self, code: str) -> Doc:
        with self.store.read() as conn:
            return self._load(conn, code)

    def _load(self, conn: sqlite3.Connection, code: str) -> Doc:
        doc = records.load_booking(conn, code)
        if doc is None:
            raise NotFound(f"Booking {code} not found")
        return doc

    def _touch(self, doc: Doc) -> None:
        # Strictly later than the last change, even within one clock tick, so
        # `last_modified` filters always see a write as new.
        doc["modified_at"] = max(self.clock(), doc["modified_at"] + 0.001)

    # --- create and modify ---------------------------------------------------------

    def create_booking(self, spec: Mapping[str, Any]) -> Doc:
        """A new booking from a control-API spec (see README); announces Booking Modified."""
        now = self.clock()
        with self.store.write() as conn:
            customer = self._customer(conn, spec.get("customer"), now)
            currency = str(spec.get("currency") or spec.get("currency_id") or ACCOUNT_CURRENCY).upper()
            if currency not in CURRENCY_RATES:
                raise InvalidInput(f"currency must be one of {', '.join(CURRENCY_RATES)}")
            start = (
                parse_when(spec["start_date"], name="start_date")
                if spec.get("start_date") is not None
                else day_start(now) + DAY + 9 * 3600
            )
            end = parse_when(spec["end_date"], name="end_date") if spec.get("end_date") is not None else None
            code = identifiers.booking_code(self.rng, now)
            while records.code_exists(conn, code):
                code = identifiers.booking_code(self.rng, now)
            doc: Doc = {
                "booking_id": records.next_booking_id(conn),
                "code": code,
                "status_id": _status(spec.get("status_id", "PEND")),
                "created_date": int(now),
                "modified_at": now,
                "currency_id": currency,
                "token": identifiers.booking_token(self.rng),
                "source_ip": str(spec.get("source_ip") or "127.0.0.1"),
                "tid": str(spec.get("tid") or ""),
                "staff_id": _int(spec.get("staff_id") or 0, name="staff_id"),
                "customer": customer,
                "fields": self._fields(spec.get("fields") or {}),
                "note": str(spec.get("note") or ""),
                "lines": self._lines(conn, spec.get("items"), currency=currency, start=start, end=end),
                "paid_total": 0,
            }
            apply_totals(doc)
            records.save_booking(conn, doc)
        self.publish(BookingChange(doc))
        return doc

    def modify_booking(self, code: str, changes: Mapping[str, Any]) -> Doc:
        """Change status, fields, dates, items or note; announces Booking Modified."""
        unknown = set(changes) - _MODIFIABLE
        if unknown:
            raise InvalidInput(f"cannot modify {', '.join(sorted(unknown))}: use {', '.join(sorted(_MODIFIABLE))}")
        with self.store.write() as conn:
            doc = self._load(conn, code)
            if "status_id" in changes:
                doc["status_id"] = _status(changes["status_id"])
            if "fields" in changes:
                merged = {**doc["fields"], **self._fields(changes["fields"] or {})}
                doc["fields"] = {k: v for k, v in merged.items() if v != ""}
            if "note" in changes:
                doc["note"] = str(changes["note"] or "")
            if changes.get("items") is not None:
                start = doc["start_date"]
                if changes.get("start_date") is not None:
                    start = parse_when(changes["start_date"], name="start_date")
                end = parse_when(changes["end_date"], name="end_date") if changes.get("end_date") else None
                doc["lines"] = self._lines(conn, changes["items"], currency=doc["currency_id"], start=start, end=end)
            else:
                self._move_dates(doc, changes.get("start_date"), changes.get("end_date"))
            apply_totals(doc)
            self._touch(doc)
            records.save_booking(conn, doc)
        self.publish(BookingChange(doc))
        return doc

    def _move_dates(self, doc: Doc, start: Any, end: Any) -> None:
        if start is not None:
            shift = parse_when(start, name="start_date") - doc["start_date"]
            for line in doc["lines"]:
                line["start_date"] += shift
                line["end_date"] += shift
        if end is not None:
            new_end = parse_when(end, name="end_date")
            if new_end < min(line["start_date"] for line in doc["lines"]):
                raise InvalidInput("end_date is before start_date")
            last = max(doc["lines"], key=lambda line: line["end_date"])
            last["end_date"] = max(new_end, last["start_date"])

    def _fields(self, fields: Any) -> dict[str, str]:
        if not isinstance(fields, Mapping):
            raise InvalidInput("fields must be an object of custom field ids to values")
        bad = [str(k) for k in fields if not FIELD_ID.match(str(k))]
        if bad:
            raise InvalidInput(f"custom field ids must be slugs (letters, digits, _): {', '.join(bad)}")
        return {str(k): "" if v is None else str(v) for k, v in fields.items()}

    def _lines(self, conn: sqlite3.Connection, specs: Any, *, currency: str, start: int, end: int | None) -> list[Doc]:
        if not isinstance(specs, list) or not specs:
            raise InvalidInput("items must be a non-empty list of {item_id or sku, qty}")
        lines = []
        for line_id, spec in enumerate(specs, start=1):
            if not isinstance(spec, Mapping):
                raise InvalidInput("each item must be an object with item_id or sku")
            if spec.get("item_id") is not None:
                item = records.load_item(conn, item_id=_int(spec["item_id"], name="item_id"))
            else:
                item = records.load_item(conn, sku=str(spec.get("sku") or ""))
            if item is None:
                raise InvalidInput(f"no item {spec.get('item_id') or spec.get('sku')!r}")
            param = None
            if isinstance(spec.get("param"), Mapping) and spec["param"]:
                labels = dict(item["params"])
                param = {
                    str(k): {"qty": _int(v, name=f"param[{k}]"), "name": labels.get(str(k), str(k))}
                    for k, v in spec["param"].items()
                }
            qty = sum(p["qty"] for p in param.values()) if param else _int(spec.get("qty", 1), name="qty")
            if qty < 1:
                raise InvalidInput("qty must be at least 1")
            line_start = parse_when(spec["start_date"], name="start_date") if spec.get("start_date") else start
            lines.append(
                price_line(item, line_id=line_id, qty=qty, currency=currency, start=line_start, end=end, param=param)
            )
        return lines

    def _customer(self, conn: sqlite3.Connection, spec: Any, now: float) -> Doc:
        """An existing customer by id (or by email), or a new one; Checkfront creates customers only with bookings."""
        if isinstance(spec, int) or (isinstance(spec, Mapping) and spec.get("customer_id") is not None):
            customer_id = _int(spec if isinstance(spec, int) else spec["customer_id"], name="customer_id")
            found = records.load_customer(conn, customer_id)
            if found is None:
                raise InvalidInput(f"no customer {customer_id}")
            return _booking_customer(found)
        if not isinstance(spec, Mapping) or not spec.get("email") or not spec.get("name"):
            raise InvalidInput("customer must be a customer_id or an object with name and email")
        found = records.find_customer_by_email(conn, str(spec["email"]).strip())
        if found is not None:
            return _booking_customer(found)
        code = identifiers.customer_code(self.rng)
        while records.customer_code_exists(conn, code):
            code = identifiers.customer_code(self.rng)
        customer = {
            "customer_id": records.next_customer_id(conn),
            "code": code,
            "name": str(spec["name"]).strip(),
            "email": str(spec["email"]).strip(),
            "created_at": now,
            "country": str(spec.get("country") or "CA").upper(),
            "email_optin": bool(spec.get("email_optin", False)),
            **{key: str(spec.get(key) or "") for key in _CUSTOMER_TEXT_KEYS},
        }
        records.insert_customers(conn, [customer])
        return _booking_customer(customer)

    # --- money -------------------------------------------------------------------------

    def record_payment(
        self,
        code: str,
        *,
        amount_minor: int | None,
        status: str = "PAID",
        gateway_id: str = "Stripe",
        transaction_id: str | None = None,
        payment_type: str | None = None,
        payment_mask: str | None = None,
        status_id: str | None = None,
    ) -> tuple[Doc, Doc]:
        """A payment or refund on the booking: (transaction, booking). Announces both.

        `amount_minor=None` pays the whole balance (InvalidInput if nothing is
        due); `status_id` overrides the status the payment would give.
        """
        if status not in ("PAID", "REFUND"):
            raise InvalidInput("status must be PAID or REFUND")
        if amount_minor is not None and amount_minor <= 0:
            raise InvalidInput("amount must be positive")
        stripe = gateway_id == "Stripe"
        with self.store.write() as conn:
            doc = self._load(conn, code)
            if amount_minor is None:
                # Read inside the transaction, so a concurrent payment cannot make this an overpayment.
                amount_minor = doc["total"] - doc["paid_total"]
                if amount_minor <= 0:
                    raise InvalidInput("set_paid needs an unpaid booking: nothing is due")
            if status == "REFUND" and amount_minor > doc["paid_total"]:
                raise InvalidInput("refund is larger than the amount paid")
            if transaction_id is None:
                transaction_id = self._new_transaction_id(conn, stripe=stripe, refund=status == "REFUND")
            elif records.transaction_id_exists(conn, transaction_id):
                raise InvalidInput(f"transaction {transaction_id} already exists")
            transaction = {
                "transaction_id": transaction_id,
                "booking_id": doc["booking_id"],
                "date": int(self.clock()),
                "status": status,
                "amount_minor": amount_minor,
                "gateway_id": gateway_id,
                "payment_mask": payment_mask or (f"{self.rng.randint(0, 9999):04d}" if stripe else "(POS)"),
                "payment_type": payment_type or ("Visa" if stripe else "Cash"),
                "payment_customer": doc["customer"]["name"],
            }
            records.insert_transactions(conn, [transaction])
            doc["paid_total"] += amount_minor if status == "PAID" else -amount_minor
            doc["status_id"] = status_id or status_after_payment(doc)
            self._touch(doc)
            records.save_booking(conn, doc)
        self.publish(BookingChange(doc, transaction))
        return transaction, doc

    def _new_transaction_id(self, conn: sqlite3.Connection, *, stripe: bool, refund: bool) -> str:
        while True:
            if stripe:
                candidate = identifiers.stripe_id(self.rng, "re" if refund else "pi")
            else:
                candidate = identifiers.pos_transaction_id(self.rng)
            if not records.transaction_id_exists(conn, candidate):
                return candidate

    # --- the API's writes ------------------------------------------------------------------

    def update_status(self, code: str, params: Mapping[str, Any]) -> Doc:
        """`POST booking/{code}/update`: status_id required; notify; set_paid=1 pays the balance at POS."""
        status_id = params.get("status_id")
        if status_id in (None, ""):
            raise InvalidInput("status_id is required")
        status_id = _status(status_id)
        notify = parse_flag(params.get("notify", ""), name="notify")
        set_paid = parse_flag(params.get("set_paid", ""), name="set_paid")
        if set_paid:
            if status_id != "PAID":
                raise InvalidInput("set_paid can only be used with status_id=PAID")
            others = set(params) - {"status_id", "notify", "set_paid"}
            if others:
                raise InvalidInput(f"set_paid cannot be combined with other input ({', '.join(sorted(others))})")
        if notify:
            # Customer emails are not simulated; the count shows in /_sim/stats.
            self.customer_notifications += 1
        if set_paid:
            _, paid = self.record_payment(
                code, amount_minor=None, gateway_id="POS", payment_type="Cash", payment_mask="(POS)", status_id="PAID"
            )
            return paid
        with self.store.write() as conn:
            doc = self._load(conn, code)
            doc["status_id"] = status_id
            self._touch(doc)
            records.save_booking(conn, doc)
        self.publish(BookingChange(doc))
        return doc

    def add_note(self, code: str, body: Any, *, private: bool = True, account_id: int = API_STAFF_ACCOUNT_ID) -> Doc:
        """`POST booking/{code}/note`: 1..3000 characters; a change to the booking, so it is announced."""
        text = "" if body is None else str(body)
        if not text.strip():
            raise InvalidInput("body is required")
        if len(text) > NOTE_MAX_CHARS:
            raise InvalidInput(f"body is {len(text)} characters; the limit is {NOTE_MAX_CHARS}")
        with self.store.write() as conn:
            doc = self._load(conn, code)
            self._touch(doc)
            note_id = records.insert_note(
                conn,
                {
                    "booking_id": doc["booking_id"],
                    "booking_code": doc["code"],
                    "account_id": account_id,
                    "created_at": doc["modified_at"],
                    "body": text,
                    "private": int(private),
                },
            )
            records.save_booking(conn, doc)
            note = records.load_note(conn, note_id)
        self.publish(BookingChange(doc))
        return note


def status_after_payment(doc: Doc) -> str:
    """Full payment → PAID, partial → PART [support]; cancelled bookings and a zero balance keep their status."""
    status = str(doc["status_id"])
    if status in CANCELLED_STATUSES or doc["paid_total"] <= 0:
        return status
    return "PAID" if doc["paid_total"] >= doc["total"] else "PART"


def _booking_customer(customer: Doc) -> Doc:
    keys = ("customer_id", "code", "name", "email", "phone", "address", "city", "region", "country", "postal_zip")
    return {key: customer.get(key, "") for key in keys}


def _int(value: Any, *, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a whole number, not {value!r}") from exc
