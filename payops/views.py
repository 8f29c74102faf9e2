"""Console views: thin, permission-checked, full page or htmx partial."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from payops.activity import recent_activity
from payops.stripe_queries import PAYMENT_STATUSES, mirror_counts, recent_payments


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
@permission_required("payops.view_inboundevent", raise_exception=True)
def home(request: HtmxHttpRequest) -> HttpResponse:
    context = {"activity": recent_activity()}
    template = "console/home.html#activity" if request.htmx else "console/home.html"
    return render(request, template, context)


@require_GET
@permission_required("payops.view_stripe_mirror", raise_exception=True)
def payments(request: HtmxHttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    if "\x00" in search:
        return HttpResponseBadRequest("the search holds a NUL character", content_type="text/plain")
    status = request.GET.get("status", "").strip()
    if status not in dict(PAYMENT_STATUSES):
        status = ""
    context = {
        "payments": recent_payments(search=search, status=status),
        "counts": mirror_counts(),
        "search": search,
        "status": status,
        "statuses": PAYMENT_STATUSES,
    }
    template = "console/payments.html#mirror" if request.htmx else "console/payments.html"
    return render(request, template, context)
