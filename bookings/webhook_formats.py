"""Reading Checkfront webhook bodies in any of the three formats an account may choose.

JSON, XML and form-encoded bodies all become the same dict: the XML-to-JSON
rendering Checkfront's own JSON uses ("@attributes", every scalar a string,
empty elements as {}, a single child as an object).
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from bookings.php_forms import parse_php_query


class BodyFormatError(ValueError):
    """The body is not valid JSON, XML or form data."""


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    text = _decode(body)
    stripped = text.lstrip()
    if kind == "application/json" or (not kind and stripped.startswith("{")):
        return _json(text)
    if kind in ("application/xml", "text/xml") or (not kind and stripped.startswith("<")):
        return _xml(text)
    if kind in ("application/x-www-form-urlencoded", "") or "=" in stripped:
        return _form(text)
    raise BodyFormatError(f"unsupported Content-Type {content_type!r}: send JSON, XML or form data")


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyFormatError("body is not UTF-8") from exc


def _json(text: str) -> dict[str, Any]:
    try:
        payload = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad syntax, NaN/Infinity and integers longer than Python parses.
        raise BodyFormatError(f"body is not valid JSON: {exc or 'nested too deeply'}") from exc
    if not isinstance(payload, dict):
        raise BodyFormatError("body must be a JSON object")
    return payload


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _xml(text: str) -> dict[str, Any]:
    try:
        # defusedxml refuses entity expansion and external references.
        root = ElementTree.fromstring(text)
        rendered = _element(root)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise BodyFormatError(f"body is not valid XML: {exc}") from exc
    except RecursionError as exc:
        raise BodyFormatError("body is not valid XML: nested too deeply") from exc
    return rendered if isinstance(rendered, dict) else {"value": rendered}


def _element(element: Element) -> Any:
    children = list(element)
    if not children and not element.attrib:
        text = (element.text or "").strip()
        return text if text else {}
    node: dict[str, Any] = {}
    if element.attrib:
        node["@attributes"] = dict(element.attrib)
    for child in children:
        value = _element(child)
        if child.tag in node:
            existing = node[child.tag]
            node[child.tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            node[child.tag] = value
    if not children and (element.text or "").strip():
        node["value"] = element.text.strip() if element.text else ""
    return node


def _form(text: str) -> dict[str, Any]:
    """PHP-style keys: booking[code]=X, booking[order][items][item][0][sku]=Y, tags[]=a."""
    try:
        return parse_php_query(text, strict=True)
    except ValueError as exc:
        raise BodyFormatError(f"body is not valid form data: {exc}") from exc
