"""The console's booking list: permission-checked, searchable, refreshed by htmx."""

from __future__ import annotations

from typing import Any

import pytest

from bookings.models import Booking

pytestmark = pytest.mark.django_db


def make_booking(n: int, **fields: Any) -> Booking:
    values = {
        "checkfront_id": n,
        "code": f"ABCD-0101{n:02d}",
        "status": "PEND",
        "currency": "cad",
        "total_minor": 4830,
        "paid_minor": 0,
        "due_minor": 4830,
        "customer_email": f"guest{n}@example.com",
        **fields,
    }
    return Booking.objects.create(**values)


def test_viewer_sees_mirrored_bookings_with_money_formatted(client: Any, viewer: Any) -> None:
    make_booking(1)
    client.force_login(viewer)
    page = client.get("/bookings/").content.decode()
    assert "ABCD-010101" in page
    assert "48.30 CAD" in page


def test_search_and_status_filter_narrow_the_list(client: Any, viewer: Any) -> None:
    make_booking(1)
    make_booking(2, status="PAID", customer_email="paid@example.com")
    client.force_login(viewer)
    rows = client.get("/bookings/", {"status": "PAID"}, headers={"HX-Request": "true"}).content.decode()
    assert "ABCD-010102" in rows and "ABCD-010101" not in rows
    assert "<html" not in rows
    rows = client.get("/bookings/", {"q": "GUEST1@"}, headers={"HX-Request": "true"}).content.decode()
    assert "ABCD-010101" in rows and "ABCD-010102" not in rows


def test_booking_list_needs_view_permission(client: Any, outsider: Any) -> None:
    client.force_login(outsider)
    assert client.get("/bookings/").status_code == 403
