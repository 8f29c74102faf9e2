"""Console views of the booking mirror."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from bookings.models import BookingStatus
from bookings.queries import recent_bookings
from payops.views import HtmxHttpRequest


@require_GET
@permission_required("bookings.view_booking", raise_exception=True)
def booking_list(request: HtmxHttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    status = request.GET.get("status", "").strip()[:16]
    if "\x00" in search + status:
        return HttpResponseBadRequest("the search holds a NUL character", content_type="text/plain")
    context = {
        "bookings": recent_bookings(search=search, status=status),
        "search": search,
        "status": status,
        "statuses": BookingStatus.choices,
    }
    template = "bookings/list.html#rows" if request.htmx else "bookings/list.html"
    return render(request, template, context)
