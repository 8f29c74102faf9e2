"""The answer to a login attempt while its username or address is locked out (django-axes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """The login page again, with why it refused and for how long: 429, nothing about whether the password was right."""
    context = {
        "form": AuthenticationForm(request),
        "next": request.POST.get(REDIRECT_FIELD_NAME, request.GET.get(REDIRECT_FIELD_NAME, "")),
        "locked_out_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "registration/login.html", context, status=429)


def counted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The username a login attempt is counted under: as typed, cut to the longest a username can be.

    Django's login form does not enforce the username's length, and a longer
    name than the attempt table holds would fail to save (a 500 on PostgreSQL).
    No real username is longer, so cutting merges only names that cannot exist.
    """
    username = credentials.get("username") if credentials else request.POST.get("username")
    if username is None:
        return None
    return str(username).replace("\0", "0x00")[: User._meta.get_field("username").max_length]


View = Callable[[HttpRequest], HttpResponse]


def user_agent_without_nul(get_response: View) -> View:
    """Middleware: a NUL in User-Agent becomes "0x00", as axes does for form data.

    axes records the user agent of every failed login in a text column, which
    PostgreSQL refuses to hold a NUL in (a 500 found by tests/fuzz/test_pay_pages.py).
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        agent = request.META.get("HTTP_USER_AGENT")
        if agent and "\0" in agent:
            request.META["HTTP_USER_AGENT"] = agent.replace("\0", "0x00")
        return get_response(request)

    return middleware
