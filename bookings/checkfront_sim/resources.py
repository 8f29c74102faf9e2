"""Stored records rendered as Checkfront API 3.0 resources: index rows, booking detail, customers, items.

Index rows follow the documented fields exactly. The booking detail is not
documented [assumed]: it is the index row plus the fields third-party clients
read (reference §4), and these additions, all [assumed]:

- `sub_total`, `amount_paid` (= `paid_total`), `amount_due` (= total - paid),
  `tax_inc_total` ("0.00"; prices are tax-exclusive), `discount`;
- `currency_id`: the booking's own currency (the account's is `locale.currency`);
- `customer_code` beside the other `customer_*` fields;
- `fields`: the custom booking-form fields only (party_size, hotel_pickup...);
- `meta.note`: the customer's note from the booking form;
- `items`: keyed by line id, each with `status_id`, `sub_total`, `tax_total`;
- `last_modified`: unix seconds of the last change (the floor of the stored
  time, so it is comparable with the index's `last_modified` filter).
"""

from __future__ import annotations

import json
from typing import Any

from bookings.checkfront_sim.account import STATUSES
from bookings.checkfront_sim.api_dates import date_desc, iso
from bookings.checkfront_sim.money import decimal_string

Doc = dict[str, Any]


def status_name(status_id: str) -> str:
    status = STATUSES.get(status_id)
    return status.name if status else status_id


def booking_index_row(doc: Doc) -> Doc:
    customer = doc["customer"]
    return {
        "booking_id": doc["booking_id"],
        "code": doc["code"],
        "status_id": doc["status_id"],
        "status_name": status_name(doc["status_id"]),
        "created_date": doc["created_date"],
        "total": decimal_string(doc["total"]),
        "tax_total": decimal_string(doc["tax_total"]),
        "paid_total": decimal_string(doc["paid_total"]),
        "customer_id": customer["customer_id"],
        "customer_name": customer["name"],
        "customer_email": customer["email"],
        "summary": doc["summary"],
        "date_desc": date_desc(doc["start_date"], doc["end_date"]),
        "tid": doc["tid"],
        "token": doc["token"],
    }


def booking_detail(doc: Doc) -> Doc:
    customer = doc["customer"]
    detail = booking_index_row(doc)
    detail.update(
        {
            "id": doc["code"],
            "start_date": doc["start_date"],
            "end_date": doc["end_date"],
            "sub_total": decimal_string(doc["sub_total"]),
            "discount": decimal_string(doc["discount"]),
            "tax_inc_total": "0.00",
            "amount_paid": decimal_string(doc["paid_total"]),
            "amount_due": decimal_string(doc["total"] - doc["paid_total"]),
            "currency_id": doc["currency_id"],
            "source_ip": doc["source_ip"],
            "staff_id": doc["staff_id"],
            "customer_code": customer["code"],
            "customer_phone": customer["phone"],
            "customer_address": customer["address"],
            "customer_city": customer["city"],
            "customer_region": customer["region"],
            "customer_country": customer["country"],
            "customer_postal_zip": customer["postal_zip"],
            "fields": dict(doc["fields"]),
            "meta": {"note": doc["note"]},
            "items": {str(line["line_id"]): _line(line, doc["status_id"]) for line in doc["lines"]},
            "last_modified": int(doc["modified_at"]),
        }
    )
    return detail


def _line(line: Doc, status_id: str) -> Doc:
    return {
        "line_id": line["line_id"],
        "item_id": line["item_id"],
        "sku": line["sku"],
        "name": line["name"],
        "qty": line["qty"],
        "status_id": status_id,
        "start_date": line["start_date"],
        "end_date": line["end_date"],
        "sub_total": decimal_string(line["sub_total"]),
        "tax_total": decimal_string(line["tax_total"]),
        "total": decimal_string(line["total"]),
        "param": line["param"],
    }


def customer_resource(customer: Doc, *, last_booking: int | None, bookings: list[tuple[str, int]] | None = None) -> Doc:
    """A customer as the `customers` search rows; with `bookings`, as `customer/{id}`."""
    resource: Doc = {
        "customer_id": customer["customer_id"],
        "meta_id": None,
        "token": None,
        "code": customer["code"],
        "status_id": "ACTIVE",
        "created_date": iso(customer["created_at"]),
        "updated_date": None,
        "last_booking_date": iso(last_booking) if last_booking else None,
        "customer_name": customer["name"],
        "customer_email": customer["email"],
        "customer_email_optin": 1 if customer.get("email_optin") else 0,
        "customer_region": customer["region"],
        "customer_city": customer["city"],
        "customer_address": customer["address"],
        "customer_country": customer["country"],
        "customer_postal_zip": customer["postal_zip"],
        "customer_phone": customer["phone"],
        "customer_crm_id": None,
        "notes": None,
        "referer": None,
    }
    if bookings is not None:
        resource["meta"] = {}
        resource["bookings"] = {code: {"created_date": iso(created)} for code, created in bookings}
    return resource


def item_resource(item: Doc, category_name: str) -> Doc:
    rules = {"param": {param_id: {"MIN": "0", "MAX": "0"} for param_id, _ in item["params"]}}
    return {
        "item_id": item["item_id"],
        "sku": item["sku"],
        "name": item["name"],
        "unit": item["unit"],
        "url": "",
        "lock": 1,
        "visibility": "*",
        "pos": 0,
        "summary": item["summary"],
        "details": "",
        "meta": "{}",
        "stock": item["stock"],
        "unlimited": item["unlimited"],
        "image": {},
        "category_id": item["category_id"],
        "category": category_name,
        "rated": 0,
        "type": "I",
        "status": "A",
        "alias_id": 0,
        "len": item["length"],
        "rules": json.dumps(rules, separators=(",", ":")),
    }


def category_resource(category: Doc, item_count: int) -> Doc:
    return {
        "category_id": category["category_id"],
        "name": category["name"],
        "description": category["description"],
        "pos": category["pos"],
        "image": "",
        "qty": item_count,
    }


def transaction_resource(transaction: Doc, booking_code: str) -> Doc:
    """`booking/{code}/transact` rows [doc-PR] with the payment webhook's field names [assumed]."""
    return {
        "transaction_id": transaction["transaction_id"],
        "date": transaction["date"],
        "status": transaction["status"],
        "amount": decimal_string(transaction["amount_minor"]),
        "gateway_id": transaction["gateway_id"],
        "payment_mask": transaction["payment_mask"],
        "payment_type": transaction["payment_type"],
        "payment_customer": transaction["payment_customer"],
        "booking_id": booking_code,
    }


def note_resource(note: Doc) -> Doc:
    return {
        "note_id": note["note_id"],
        "account_id": note["account_id"],
        "date": iso(note["created_at"]),
        "body": note["body"],
        "private": bool(note["private"]),
        "booking_id": note["booking_code"],
    }
