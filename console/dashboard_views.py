"""The Dashboard page: the figures finance staff watch, refreshed in place every 30 seconds."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from console.dashboard import dashboard_figures
from payops.views import HtmxHttpRequest

TEMPLATE = "console/dashboard.html"


# The same URL answers with the whole page or the figures partial.
@require_GET
@vary_on_headers("HX-Request")
@permission_required("payops.view_reviewitem", raise_exception=True)
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    # A history restore after a cache miss wants the whole page, not the partial.
    partial = bool(request.htmx) and not request.htmx.history_restore_request
    template = f"{TEMPLATE}#figures" if partial else TEMPLATE
    return render(request, template, {"dashboard": dashboard_figures()})
