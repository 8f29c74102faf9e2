"""Turning Checkfront's API rows and webhook bodies into plain typed records.

Checkfront sends money as decimal strings, dates as unix seconds, YYYYMMDD or
ISO-8601, collections keyed by id, and (in webhooks) every scalar as a
string with single children not wrapped in lists. All of that is absorbed
here so the mirror sees one shape.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from payops.card_numbers import redact_value
from payops.money import to_minor

# Never kept: the customer token opens the booking's invoice and payment page. Nor is a card number a
# customer or staff typed into a note or form field (redact_value at each entry below).
SECRET_KEYS = frozenset({"token"})


class PayloadError(ValueError):
    """A Checkfront payload lacks what the mirror needs."""


@dataclass(frozen=True)
class CustomerData:
    checkfront_id: str
    code: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    address: str = ""
    city: str = ""
    region: str = ""
    country: str = ""
    postal_zip: str = ""


@dataclass(frozen=True)
class LineData:
    line_id: str
    item_checkfront_id: int | None
    sku: str
    name: str
    qty: int
    start_at: datetime | None
    end_at: datetime | None
    total_minor: int
    params: dict[str, Any]


@dataclass(frozen=True)
class BookingData:
    checkfront_id: int
    code: str
    status: str
    status_name: str
    currency: str
    total_minor: int
    tax_total_minor: int
    paid_minor: int
    customer: CustomerData | None
    customer_name: str
    customer_email: str
    summary: str = ""
    booked_at: datetime | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    source_ip: str | None = None
    form_fields: dict[str, Any] = field(default_factory=dict)
    lines: list[LineData] | None = None  # None: not known (index row)
    checkfront_modified_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def due_minor(self) -> int:
        return self.total_minor - self.paid_minor

    @property
    def is_detail(self) -> bool:
        return self.lines is not None


@dataclass(frozen=True)
class TransactionData:
    checkfront_id: str
    booking_code: str
    status: str
    amount_minor: int
    currency: str
    gateway_id: str
    payment_type: str
    payment_last4: str
    occurred_at: datetime | None
    raw: dict[str, Any]


def when(value: Any) -> datetime | None:
    """Unix seconds, YYYYMMDD or ISO-8601 → aware UTC datetime; blanks → None."""
    if value in (None, "", {}, 0, "0"):
        return None
    text = str(value).strip()
    if text.isdigit():
        if len(text) == 8 and text[:2] in ("19", "20"):
            return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC)
        return datetime.fromtimestamp(int(text), tz=UTC)
    parsed = parse_datetime(text)
    if parsed is None:
        raise PayloadError(f"{value!r} is not a date")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    """Webhook bodies render empty elements as {}; treat those as blank."""
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def _ip(value: Any) -> str | None:
    text = _text(value)
    try:
        return str(ipaddress.ip_address(text)) if text else None
    except ValueError:
        return None


def _currency(value: Any, fallback: str) -> str:
    code = (_text(value) or fallback).lower()
    if len(code) != 3 or not code.isalpha():
        raise PayloadError(f"{value!r} is not a currency code")
    return code


def _without_secrets(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in SECRET_KEYS}


def _customer(payload: dict[str, Any]) -> CustomerData | None:
    customer_id = _text(payload.get("customer_id"))
    if not customer_id:
        return None
    return CustomerData(
        checkfront_id=customer_id,
        code=_text(payload.get("customer_code")),
        name=_text(payload.get("customer_name")),
        email=_text(payload.get("customer_email")).lower(),
        phone=_text(payload.get("customer_phone")),
        address=_text(payload.get("customer_address")),
        city=_text(payload.get("customer_city")),
        region=_text(payload.get("customer_region")),
        country=_text(payload.get("customer_country")),
        postal_zip=_text(payload.get("customer_postal_zip")),
    )


def _required(payload: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = _text(payload.get(key))
        if value:
            return value
    raise PayloadError(f"booking payload has no {' or '.join(keys)}")


def booking_from_index_row(row: dict[str, Any], *, account_currency: str) -> BookingData:
    """An index row: status, totals and customer, but no lines, dates or currency of its own."""
    row = redact_value(row)
    currency = _currency(row.get("currency_id"), account_currency)
    total = to_minor(_text(row.get("total")) or "0", currency)
    return BookingData(
        checkfront_id=int(_required(row, "booking_id")),
        code=_required(row, "code", "id"),
        status=_required(row, "status_id"),
        status_name=_text(row.get("status_name")),
        currency=currency,
        total_minor=total,
        tax_total_minor=to_minor(_text(row.get("tax_total")) or "0", currency),
        paid_minor=to_minor(_text(row.get("paid_total")) or "0", currency),
        customer=_customer(row),
        customer_name=_text(row.get("customer_name")),
        customer_email=_text(row.get("customer_email")).lower(),
        summary=_text(row.get("summary"))[:500],
        booked_at=when(row.get("created_date")),
        raw=_without_secrets(row),
    )


def booking_from_detail(detail: dict[str, Any], *, account_currency: str) -> BookingData:
    """`GET booking/{code}`: everything the index row has plus lines, dates, IP and form fields."""
    detail = redact_value(detail)
    currency = _currency(detail.get("currency_id"), account_currency)
    paid = _text(detail.get("paid_total")) or _text(detail.get("amount_paid")) or "0"
    items = detail.get("items") or {}
    lines = [_line(line_id, line, currency) for line_id, line in _keyed(items)]
    fields = detail.get("fields")
    return BookingData(
        checkfront_id=int(_required(detail, "booking_id")),
        code=_required(detail, "code", "id"),
        status=_required(detail, "status_id"),
        status_name=_text(detail.get("status_name")),
        currency=currency,
        total_minor=to_minor(_text(detail.get("total")) or "0", currency),
        tax_total_minor=to_minor(_text(detail.get("tax_total")) or "0", currency),
        paid_minor=to_minor(paid, currency),
        customer=_customer(detail),
        customer_name=_text(detail.get("customer_name")),
        customer_email=_text(detail.get("customer_email")).lower(),
        summary=_text(detail.get("summary"))[:500],
        booked_at=when(detail.get("created_date")),
        start_at=when(detail.get("start_date")),
        end_at=when(detail.get("end_date")),
        source_ip=_ip(detail.get("source_ip") or detail.get("ip")),
        form_fields=dict(fields) if isinstance(fields, dict) else {},
        lines=lines,
        checkfront_modified_at=when(detail.get("last_modified")),
        raw=_without_secrets(detail),
    )


def _keyed(collection: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(collection, dict):
        return [(str(k), v) for k, v in collection.items() if isinstance(v, dict)]
    if isinstance(collection, list):
        return [(str(v.get("line_id", n + 1)), v) for n, v in enumerate(collection) if isinstance(v, dict)]
    return []


def _line(line_id: str, line: dict[str, Any], currency: str) -> LineData:
    item_id = _text(line.get("item_id") or line.get("id"))
    params = line.get("param")
    return LineData(
        line_id=line_id,
        item_checkfront_id=int(item_id) if item_id.isdigit() else None,
        sku=_text(line.get("sku")),
        name=_text(line.get("name")),
        qty=int(_text(line.get("qty")) or 1),
        start_at=when(line.get("start_date")),
        end_at=when(line.get("end_date")),
        total_minor=to_minor(_text(line.get("total")) or "0", currency),
        params=dict(params) if isinstance(params, dict) else {},
    )


def transaction_from_payload(payload: dict[str, Any], *, currency: str) -> TransactionData:
    """A transaction from the New Payment/Refund webhook or `booking/{code}/transact`."""
    payload = redact_value(payload)
    transaction_id = _text(payload.get("transaction_id") or payload.get("id"))
    code = _text(payload.get("booking_id") or payload.get("booking_code"))
    if not transaction_id or not code:
        raise PayloadError("transaction payload needs transaction_id and booking_id")
    mask = _text(payload.get("payment_mask"))
    return TransactionData(
        checkfront_id=transaction_id,
        booking_code=code,
        status=_text(payload.get("status")).upper() or "PAID",
        amount_minor=to_minor(_text(payload.get("amount")) or "0", currency),
        currency=currency,
        gateway_id=_text(payload.get("gateway_id")),
        payment_type=_text(payload.get("payment_type")),
        # Only the last four digits, whatever the gateway sent.
        payment_last4=mask[-4:] if mask[-4:].isdigit() else "",
        occurred_at=when(payload.get("date")),
        raw=_without_secrets(payload),
    )
