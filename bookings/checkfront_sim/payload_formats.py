"""Webhook bodies in Checkfront's three formats: XML, its XML-to-JSON rendering, and form encoding.

Booking Modified [doc]: built as the XML document of the official sample
(root `<checkfront-notify version="3.0" host=...>`). The JSON body is that XML
rendered the way PHP's json_encode(simplexml) does: attributes under
"@attributes", every scalar a string, empty elements as {}, a repeated element
as a list but a single one as an object (`items.item`, `taxes.tax`).

New Payment/Refund [doc]: the JSON sample is a plain object (version, host,
type "transaction", action "insert", transaction {...}) with `date` an
integer; the XML sample has the same children under `<checkfront-notify>`.
[assumed] A refund is also action "insert" with status "REFUND".

Form encoding [assumed; undocumented]: PHP's http_build_query() of the very
array the JSON body carries, so PHP-style keys mirror the JSON:
`@attributes[version]=3.0&booking[@attributes][booking_id]=157&booking[code]=...`,
`booking[order][items][item][0][sku]=...` for several lines but
`booking[order][items][item][sku]=...` for one, and empty elements ({}) leave
no key at all, as http_build_query drops empty arrays. The payment form is
`version=...&host=...&type=transaction&action=insert&transaction[amount]=...`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from bookings.checkfront_sim.account import BOOKING_WEBHOOK_VERSION, HOST_ID, TRANSACTION_WEBHOOK_VERSION
from bookings.checkfront_sim.money import decimal_string
from bookings.checkfront_sim.resources import transaction_resource
from bookings.php_forms import build_php_query

Doc = dict[str, Any]

FORMATS = ("json", "xml", "form")
CONTENT_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "form": "application/x-www-form-urlencoded",
}
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


@dataclass(frozen=True)
class Notification:
    """One webhook event, rendered per endpoint format when it is queued."""

    event: str  # "booking" (Booking Modified) or "transaction" (New Payment/Refund)
    booking_code: str
    xml: Element
    data: Doc  # what the JSON and form bodies encode

    def body(self, fmt: str) -> bytes:
        if fmt == "json":
            return json.dumps(self.data, ensure_ascii=False).encode()
        if fmt == "xml":
            return (XML_DECLARATION + tostring(self.xml, encoding="unicode") + "\n").encode()
        if fmt == "form":
            return build_php_query(self.data).encode()
        raise ValueError(f"unknown webhook format {fmt!r}")


def _add(parent: Element, tag: str, text: Any = None, **attributes: Any) -> Element:
    child = SubElement(parent, tag, {k: str(v) for k, v in attributes.items()})
    if text is not None and text != "":
        child.text = str(text)
    return child


def simplexml_json(element: Element) -> Any:
    """An element as PHP's json_encode(simplexml_load_string(...)) renders it."""
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        if element.attrib:
            return {"@attributes": dict(element.attrib)}
        return text if text else {}
    node: Doc = {}
    if element.attrib:
        node["@attributes"] = dict(element.attrib)
    for child in children:
        value = simplexml_json(child)
        if child.tag not in node:
            node[child.tag] = value
        elif isinstance(node[child.tag], list):
            node[child.tag].append(value)
        else:
            node[child.tag] = [node[child.tag], value]
    return node


def booking_notification(doc: Doc) -> Notification:
    root = Element("checkfront-notify", {"version": BOOKING_WEBHOOK_VERSION, "host": HOST_ID})
    booking = _add(root, "booking", booking_id=doc["booking_id"])
    customer = doc["customer"]
    _add(booking, "status", doc["status_id"])
    _add(booking, "code", doc["code"])
    _add(booking, "tid", doc["tid"])
    _add(booking, "created_date", doc["created_date"])
    _add(booking, "staff_id", doc["staff_id"])
    _add(booking, "source_ip", doc["source_ip"])
    _add(booking, "start_date", doc["start_date"])
    _add(booking, "end_date", doc["end_date"])
    customer_el = _add(booking, "customer")
    for key in ("code", "name", "email", "region", "address", "city", "country", "phone", "postal_zip"):
        _add(customer_el, key, customer[key])
    fields = _add(booking, "fields")
    for key in ("name", "email", "region", "address", "city", "country", "phone", "postal_zip"):
        _add(fields, f"customer_{key}", customer[key])
    for key, value in doc["fields"].items():
        _add(fields, key, value)
    meta = _add(booking, "meta")
    _add(meta, "note", doc["note"])
    _add(meta, "mobile_device")
    order = _add(booking, "order", currency_id=doc["currency_id"])
    _add(order, "sub_total", decimal_string(doc["sub_total"]))
    _add(order, "tax_total", decimal_string(doc["tax_total"]))
    _add(order, "paid_total", decimal_string(doc["paid_total"]))
    _add(order, "total", decimal_string(doc["total"]))
    taxes = _add(order, "taxes")
    for tax in doc["taxes"]:
        tax_el = _add(taxes, "tax", tax_id=tax["tax_id"])
        _add(tax_el, "name", tax["name"])
        _add(tax_el, "amount", decimal_string(tax["amount"]))
    _add(order, "discount", decimal_string(doc["discount"]))
    items = _add(order, "items")
    for line in doc["lines"]:
        item = _add(items, "item", line_id=line["line_id"], item_id=line["item_id"])
        _add(item, "start_date", line["start_date"])
        _add(item, "end_date", line["end_date"])
        _add(item, "sku", line["sku"])
        _add(item, "slip")
        _add(item, "package_id", 0)
        _add(item, "status", doc["status_id"])
        _add(item, "total", decimal_string(line["total"]))
        _add(item, "tax_total", decimal_string(line["tax_total"]))
        _add(item, "qty", line["qty"])
    indent(root, space="    ")
    return Notification(event="booking", booking_code=doc["code"], xml=root, data=simplexml_json(root))


def transaction_notification(transaction: Doc, booking_code: str) -> Notification:
    # The webhook carries the same fields as the transact resource.
    fields = transaction_resource(transaction, booking_code)
    data = {
        "version": TRANSACTION_WEBHOOK_VERSION,
        "host": HOST_ID,
        "type": "transaction",
        "action": "insert",
        "transaction": fields,
    }
    root = Element("checkfront-notify", {"version": TRANSACTION_WEBHOOK_VERSION, "host": HOST_ID})
    _add(root, "type", "transaction")
    _add(root, "action", "insert")
    transaction_el = _add(root, "transaction")
    for key, value in fields.items():
        _add(transaction_el, key, value)
    indent(root, space="    ")
    return Notification(event="transaction", booking_code=booking_code, xml=root, data=data)
