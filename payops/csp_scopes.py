"""Where a page's Content-Security-Policy differs from the site's (settings.CONTENT_SECURITY_POLICY)."""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import UNSAFE_INLINE
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse


class AdminStylesMiddleware:
    """The Django admin and the admin pages of simple-history and dj-stripe write a few inline styles.

    Styles only, and only under the admin: scripts stay 'self' there too, and
    every console, login and pay page keeps the strict policy.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path_info.startswith(reverse("admin:index")):
            response._csp_update = {"style-src": [UNSAFE_INLINE]}  # type: ignore[attr-defined] # read by CSPMiddleware
        return response
