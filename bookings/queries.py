"""Reads of the booking mirror that console views share."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from bookings.models import Booking


def recent_bookings(*, search: str = "", status: str = "", limit: int = 50) -> QuerySet[Booking]:
    bookings = Booking.objects.select_related("customer").order_by("-updated_at")
    if status:
        bookings = bookings.filter(status=status)
    if search:
        bookings = bookings.filter(Q(code__icontains=search) | Q(customer_email__icontains=search.lower()))
    return bookings[:limit]
