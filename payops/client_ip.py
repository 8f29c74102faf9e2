"""Which address a request came from, for counting failed logins per client."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR; behind our TLS proxy, the address the proxy appended to X-Forwarded-For.

    Only the last entry is the proxy's own: anything before it came from the
    client and may be forged, so a client cannot pick the address it is counted under.
    """
    if settings.PAYOPS_BEHIND_PROXY:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return str(request.META.get("REMOTE_ADDR", ""))
