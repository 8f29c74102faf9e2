"""Placeholder until the queue lands."""

from django.http import HttpRequest, HttpResponse


def queue(request: HttpRequest) -> HttpResponse:
    return HttpResponse("not built yet", status=501)
