"""Placeholder until the dashboard lands (being written now)."""

from django.http import HttpRequest, HttpResponse


def dashboard(request: HttpRequest) -> HttpResponse:
    return HttpResponse("not built yet", status=501)
