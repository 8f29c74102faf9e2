"""Checkfront webhook bodies in JSON, XML and form encoding all read as the same shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bookings.webhook_formats import BodyFormatError, parse_body

FIXTURES = Path(__file__).parent / "fixtures"

BOOKING_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<checkfront-notify version="3.0" host="your-company.checkfront.com">
  <booking booking_id="157">
    <status>HOLD</status>
    <code>KMVQ-060314</code>
    <tid/>
    <source_ip>66.228.55.142</source_ip>
    <order currency_id="CAD">
      <total>48.30</total>
      <items><item line_id="1" item_id="6"><sku>paddle</sku><qty>2</qty></item></items>
    </order>
  </booking>
</checkfront-notify>"""


def test_checkfronts_own_json_sample_parses_as_is() -> None:
    body = (FIXTURES / "webhook-booking.json").read_bytes()
    payload = parse_body(body, "application/json")
    assert payload["booking"]["code"] == "KMVQ-060314"
    assert payload == json.loads(body)


def test_xml_renders_like_checkfronts_json() -> None:
    payload = parse_body(BOOKING_XML, "application/xml; charset=utf-8")
    assert payload["@attributes"] == {"version": "3.0", "host": "your-company.checkfront.com"}
    booking = payload["booking"]
    assert booking["@attributes"] == {"booking_id": "157"}
    assert booking["code"] == "KMVQ-060314"
    assert booking["tid"] == {}
    assert booking["order"]["@attributes"] == {"currency_id": "CAD"}
    # A single child is an object, not a list, as in Checkfront's JSON.
    assert booking["order"]["items"]["item"]["sku"] == "paddle"


def test_form_encoded_php_style_keys_nest() -> None:
    body = (
        b"booking[code]=KMVQ-060314&booking[status]=HOLD&booking[customer][email]=a%40b.example"
        b"&booking[order][items][item][0][sku]=paddle&booking[order][items][item][1][sku]=kayak&tags[]=x&tags[]=y"
    )
    payload = parse_body(body, "application/x-www-form-urlencoded")
    assert payload["booking"]["code"] == "KMVQ-060314"
    assert payload["booking"]["customer"]["email"] == "a@b.example"
    assert payload["booking"]["order"]["items"]["item"] == [{"sku": "paddle"}, {"sku": "kayak"}]
    assert payload["tags"] == ["x", "y"]


def test_format_is_sniffed_when_the_content_type_is_missing() -> None:
    assert parse_body(b'{"a": "1"}', "")["a"] == "1"
    assert parse_body(BOOKING_XML, "")["booking"]["code"] == "KMVQ-060314"
    assert parse_body(b"a=1", "")["a"] == "1"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{broken", "application/json", "not valid JSON"),
        (b"[1]", "application/json", "JSON object"),
        (b"<a><b></a>", "application/xml", "not valid XML"),
        (b"\xff\xfe", "application/json", "not UTF-8"),
        (b"%%%", "application/x-www-form-urlencoded", "not valid form data"),
        (b"hello", "text/plain", "unsupported Content-Type"),
    ],
)
def test_malformed_bodies_are_refused(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(BodyFormatError, match=message):
        parse_body(body, content_type)


def test_xml_entity_expansion_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><x>&b;</x>'
    with pytest.raises(BodyFormatError, match="not valid XML"):
        parse_body(bomb, "application/xml")
