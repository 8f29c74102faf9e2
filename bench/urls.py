"""Bench URLconf: the real PayOps URLs plus the two comparison endpoints.

- /webhooks/stripe/            PayOps' own inbox (from payops.urls, unchanged)
- /bench/bare/                 (a) bare Django view, one INSERT
- /stripe/webhook/<uuid>/      (b) dj-stripe 2.11's ProcessWebhookView, exactly as its
                                docs wire it. The view class is already decorated with
                                login_not_required (and csrf_exempt), so it passes
                                LoginRequiredMiddleware without a wrapper.
"""

from __future__ import annotations

from django.urls import include, path

from bench.views import bare_insert

urlpatterns = [
    path("bench/bare/", bare_insert, name="bench_bare"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("", include("payops.urls")),
]
