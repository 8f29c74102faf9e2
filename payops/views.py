"""Console views: thin, permission-checked, full page or htmx partial."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from payops.activity import recent_activity


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@permission_required("payops.view_inboundevent", raise_exception=True)
def home(request: HtmxHttpRequest) -> HttpResponse:
    context = {"activity": recent_activity()}
    template = "console/home.html#activity" if request.htmx else "console/home.html"
    return render(request, template, context)
