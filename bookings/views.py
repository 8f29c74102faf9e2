"""Console views of the booking mirror."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render

from bookings.models import BookingStatus
from bookings.queries import recent_bookings
from payops.views import HtmxHttpRequest


@permission_required("bookings.view_booking", raise_exception=True)
def booking_list(request: HtmxHttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    status = request.GET.get("status", "").strip()[:16]
    context = {
        "bookings": recent_bookings(search=search, status=status),
        "search": search,
        "status": status,
        "statuses": BookingStatus.choices,
    }
    template = "bookings/list.html#rows" if request.htmx else "bookings/list.html"
    return render(request, template, context)
