"""Pricing a booking: line totals from item price × qty in the booking currency, taxes per line, sums.

Amounts are integer minor units. Each line is taxed on its own and rounded to
the cent; the booking's taxes are the sums of the lines', so the totals always
add up exactly.
"""

from __future__ import annotations

from typing import Any

from bookings.checkfront_sim.account import TAXES
from bookings.checkfront_sim.money import convert_from_account_currency, share_of

Doc = dict[str, Any]

HOUR = 3600
DAY = 86400


def line_end(item: Doc, start: int) -> int:
    """Tours and lessons last `length` hours; rentals and stays `length` days (unit "D")."""
    if item["unit"] == "D":
        return start + item["length"] * DAY
    return start + item["length"] * HOUR


def default_param(item: Doc, qty: int) -> dict[str, dict[str, Any]]:
    """Everyone on the item's first parameter (adults, bikes...)."""
    param_id, label = item["params"][0]
    return {param_id: {"qty": qty, "name": label}}


def price_line(
    item: Doc,
    *,
    line_id: int,
    qty: int,
    currency: str,
    start: int,
    end: int | None = None,
    param: dict[str, dict[str, Any]] | None = None,
) -> Doc:
    sub_total = convert_from_account_currency(item["price_minor"], currency) * qty
    taxes = {str(tax.tax_id): share_of(sub_total, tax.basis_points) for tax in TAXES[currency]}
    tax_total = sum(taxes.values())
    return {
        "line_id": line_id,
        "item_id": item["item_id"],
        "sku": item["sku"],
        "name": item["name"],
        "qty": qty,
        "param": param or default_param(item, qty),
        "start_date": start,
        "end_date": end if end is not None else line_end(item, start),
        "sub_total": sub_total,
        "tax_total": tax_total,
        "total": sub_total + tax_total,
        "taxes": taxes,
    }


def apply_totals(doc: Doc) -> Doc:
    """Set the booking's sums, taxes, dates and summary from its lines (in place; returns doc)."""
    lines = doc["lines"]
    doc["sub_total"] = sum(line["sub_total"] for line in lines)
    doc["tax_total"] = sum(line["tax_total"] for line in lines)
    doc["discount"] = 0
    doc["total"] = doc["sub_total"] + doc["tax_total"] - doc["discount"]
    doc["taxes"] = [
        {
            "tax_id": tax.tax_id,
            "name": tax.name,
            "amount": sum(line["taxes"].get(str(tax.tax_id), 0) for line in lines),
        }
        for tax in TAXES[doc["currency_id"]]
    ]
    doc["start_date"] = min(line["start_date"] for line in lines)
    doc["end_date"] = max(line["end_date"] for line in lines)
    doc["summary"] = ", ".join(dict.fromkeys(line["name"] for line in lines))
    return doc
