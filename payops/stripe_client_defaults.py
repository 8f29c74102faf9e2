"""stripe-python's global client, which dj-stripe uses to re-read objects for the mirror.

Left alone it waits 80 s per call and retries on its own schedule; here it
gets PayOps's timeout and attempt count, like the gateway's own client.
"""

from __future__ import annotations

import stripe
from django.conf import settings


def configure_global_stripe_client() -> None:
    stripe.default_http_client = stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
    stripe.max_network_retries = settings.STRIPE_MAX_ATTEMPTS - 1
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE
