"""Placeholder until the settings page lands (being written now)."""

from django.http import HttpRequest, HttpResponse


def policies(request: HttpRequest) -> HttpResponse:
    return HttpResponse("not built yet", status=501)


def edit_policy(request: HttpRequest, workflow: str) -> HttpResponse:
    return HttpResponse("not built yet", status=501)
