"""The simulator's encoders: PHP-style forms and the simplexml-style JSON of webhook bodies."""

from __future__ import annotations

from xml.etree.ElementTree import Element, SubElement

from bookings.checkfront_sim.payload_formats import simplexml_json
from bookings.php_forms import build_php_query, parse_php_query


def test_simplexml_json_follows_phps_rendering() -> None:
    element = Element("root", {"v": "1"})
    SubElement(element, "empty")
    SubElement(element, "text").text = "7"
    SubElement(SubElement(element, "one", {"a": "x"}), "b").text = "2"
    many = SubElement(element, "many")
    for n in ("1", "2"):
        SubElement(many, "i").text = n
    SubElement(SubElement(element, "single"), "i").text = "1"
    assert simplexml_json(element) == {
        "@attributes": {"v": "1"},
        "empty": {},
        "text": "7",
        "one": {"@attributes": {"a": "x"}, "b": "2"},
        "many": {"i": ["1", "2"]},
        "single": {"i": "1"},
    }


def test_php_forms_round_trip_nested_keys_and_lists() -> None:
    data = {"form": {"customer_name": "Ann & Bo"}, "slip": ["a", "b"], "alter": {"3": "4"}, "empty": {}}
    encoded = build_php_query(data)
    assert "form%5Bcustomer_name%5D=Ann+%26+Bo" in encoded and "empty" not in encoded
    assert parse_php_query(encoded) == {"form": {"customer_name": "Ann & Bo"}, "slip": ["a", "b"], "alter": {"3": "4"}}
    assert parse_php_query("slip[]=x&slip[]=y&a=1&a=2") == {"slip": ["x", "y"], "a": "2"}
