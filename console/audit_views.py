"""Placeholder until the audit page lands (being written now)."""

from django.http import HttpRequest, HttpResponse


def search(request: HttpRequest) -> HttpResponse:
    return HttpResponse("not built yet", status=501)


def export_csv(request: HttpRequest) -> HttpResponse:
    return HttpResponse("not built yet", status=501)
