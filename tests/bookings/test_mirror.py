"""The mirror: parsing Checkfront payloads, idempotent upserts, and each domain signal sent once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bookings import signals
from bookings.checkfront_payloads import (
    PayloadError,
    booking_from_detail,
    booking_from_index_row,
    transaction_from_payload,
    when,
)
from bookings.mirror import upsert_booking_detail, upsert_index_rows, upsert_transaction
from bookings.models import Booking, BookingItem, Customer

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"


def detail(**changes: Any) -> dict[str, Any]:
    base = {
        "id": "KMVQ-060314",
        "code": "KMVQ-060314",
        "booking_id": 157,
        "status_id": "HOLD",
        "status_name": "Reserved",
        "customer_id": 25,
        "customer_name": "Ada Lovelace",
        "customer_email": "Ada@Example.com",
        "customer_country": "CA",
        "currency_id": "CAD",
        "total": "48.30",
        "tax_total": "2.30",
        "paid_total": "0.00",
        "amount_due": "48.30",
        "created_date": 1394156618,
        "start_date": 1394128800,
        "end_date": 1394132400,
        "source_ip": "66.228.55.142",
        "token": "57c2ac0a58dc02a72df50a8841b1c8a190627ff69a2435060a3ed3d469819477",
        "fields": {"party_size": "2"},
        "items": {"1": {"item_id": 6, "sku": "paddle", "name": "Paddle tour", "qty": 2, "total": "46.00"}},
        "last_modified": 1394156700,
    }
    return {**base, **changes}


@pytest.fixture
def heard() -> Iterator[list[tuple[str, str]]]:
    """Every domain signal sent, as (signal, booking code)."""
    log: list[tuple[str, str]] = []
    receivers = {}
    for name in ("booking_created", "booking_became_payable", "booking_cancelled", "booking_changed"):

        def receiver(sender: Any, booking: Booking, _name: str = name, **kwargs: Any) -> None:
            log.append((_name, booking.code))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver)
    yield log
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


def mirror(**changes: Any) -> Any:
    return upsert_booking_detail(booking_from_detail(detail(**changes), account_currency="usd"))


def test_detail_is_parsed_into_minor_units_dates_and_lines() -> None:
    data = booking_from_detail(detail(), account_currency="usd")
    assert (data.currency, data.total_minor, data.paid_minor, data.due_minor) == ("cad", 4830, 0, 4830)
    assert data.customer_email == "ada@example.com"
    assert data.start_at == when(1394128800)
    assert data.source_ip == "66.228.55.142"
    assert data.lines is not None and data.lines[0].qty == 2 and data.lines[0].total_minor == 4600
    assert "token" not in data.raw


def test_index_rows_take_the_account_currency() -> None:
    row = json.loads((FIXTURES / "booking-index.json").read_text())["booking/index"]["3149"]
    data = booking_from_index_row(row, account_currency="CAD")
    assert (data.code, data.status, data.currency, data.total_minor, data.paid_minor) == (
        "PVCA-050314",
        "PAID",
        "cad",
        14190,
        14190,
    )
    assert not data.is_detail


@pytest.mark.parametrize(
    "changes", [{"booking_id": None}, {"total": "12.345"}, {"currency_id": "dollars"}, {"start_date": "soon"}]
)
def test_payloads_missing_what_the_mirror_needs_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises((PayloadError, ValueError)):
        booking_from_detail(detail(**changes), account_currency="usd")


def test_first_detail_creates_the_booking_and_announces_it_payable(heard: list[tuple[str, str]]) -> None:
    result = mirror()
    booking = result.booking
    assert result.created
    assert (booking.status, booking.due_minor, booking.currency) == ("HOLD", 4830, "cad")
    assert booking.customer == Customer.objects.get(checkfront_id="25")
    assert BookingItem.objects.get(booking=booking).sku == "paddle"
    assert heard == [("booking_created", "KMVQ-060314"), ("booking_became_payable", "KMVQ-060314")]


def test_the_same_detail_twice_changes_and_announces_nothing(heard: list[tuple[str, str]]) -> None:
    mirror()
    heard.clear()
    result = mirror()
    assert not result.created and result.changed_fields == [] and result.announced == []
    assert heard == []
    assert Booking.history.count() == 1


def test_payment_and_cancellation_are_announced_once(heard: list[tuple[str, str]]) -> None:
    mirror()
    heard.clear()
    mirror(status_id="PAID", paid_total="48.30")
    assert heard == [("booking_changed", "KMVQ-060314")]
    heard.clear()
    mirror(status_id="STOP", paid_total="48.30")
    mirror(status_id="STOP", paid_total="48.30")
    assert heard == [("booking_changed", "KMVQ-060314"), ("booking_cancelled", "KMVQ-060314")]


def test_a_deposit_then_a_new_balance_announces_payable_again(heard: list[tuple[str, str]]) -> None:
    mirror(status_id="PAID", paid_total="48.30")
    heard.clear()
    mirror(status_id="PART", total="96.60", paid_total="48.30")
    assert ("booking_became_payable", "KMVQ-060314") in heard


def test_lines_follow_the_detail() -> None:
    mirror()
    mirror(items={"2": {"item_id": 7, "sku": "kayak", "qty": 1, "total": "20.00"}})
    assert list(BookingItem.objects.values_list("line_id", "sku")) == [("2", "kayak")]


def test_index_rows_create_bookings_in_bulk_without_announcing(heard: list[tuple[str, str]]) -> None:
    rows = [
        booking_from_index_row(
            {"booking_id": n, "code": f"ABCD-0101{n:02d}", "status_id": "PEND", "total": "10.00", "paid_total": "0"},
            account_currency="usd",
        )
        for n in range(1, 6)
    ]
    result = upsert_index_rows(rows)
    assert (result.new, result.changed, len(result.needs_detail)) == (5, 0, 5)
    assert Booking.objects.filter(detail_synced_at__isnull=True).count() == 5
    assert heard == []
    again = upsert_index_rows(rows)
    assert (again.new, again.changed, again.unchanged) == (0, 0, 5)
    # Still without detail, so still wanted.
    assert len(again.needs_detail) == 5


def test_detail_after_index_row_announces_creation_once(heard: list[tuple[str, str]]) -> None:
    row = booking_from_index_row(
        {"booking_id": 157, "code": "KMVQ-060314", "status_id": "HOLD", "total": "48.30", "paid_total": "0"},
        account_currency="cad",
    )
    upsert_index_rows([row])
    mirror()
    assert heard[0] == ("booking_created", "KMVQ-060314")
    assert Booking.objects.get().detail_synced_at is not None


def test_transactions_are_recorded_once_with_only_last4() -> None:
    mirror()
    payload = json.loads((FIXTURES / "webhook-payment.json").read_text())["transaction"]
    payload["booking_id"] = "KMVQ-060314"
    data = transaction_from_payload(payload, currency="cad")
    first, created = upsert_transaction(data)
    second, created_again = upsert_transaction(data)
    assert created and not created_again and first.pk == second.pk
    assert (first.amount_minor, first.payment_last4, first.booking.code) == (2700, "1111", "KMVQ-060314")
