"""Subscribing PayOps's inbox to a Stripe account's events (a one-off setup step)."""

from __future__ import annotations

import hashlib
import ipaddress
from urllib.parse import urlsplit

import stripe

from payops.stripe_gateway import StripeGateway
from payops.stripe_handlers import STRIPE_EVENT_TYPES


class WebhookSetupError(ValueError):
    """The URL is unusable, or an endpoint for it already exists."""


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if not parts.hostname or not parts.path.rstrip("/").endswith("/webhooks/stripe"):
        raise WebhookSetupError(f"{url!r} is not PayOps's Stripe inbox, https://<host>/webhooks/stripe/")
    try:
        loopback = ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        loopback = parts.hostname == "localhost"
    # Stripe delivers only to HTTPS; plain HTTP is for the local stand-in.
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise WebhookSetupError(f"{url!r} must be https:// (plain http only on loopback, for the stand-in)")


def subscribe_inbox(*, gateway: StripeGateway, url: str) -> stripe.WebhookEndpoint:
    """Create the endpoint for `url` with every event PayOps handles; its `secret` goes in STRIPE_WEBHOOK_SECRETS.

    Refuses when an enabled endpoint already posts to `url`, since a second
    one would deliver every event twice under another secret.
    """
    _check_url(url)
    for endpoint in gateway.list_webhook_endpoints():
        if endpoint.url == url and endpoint.status == "enabled":
            raise WebhookSetupError(f"endpoint {endpoint.id} already posts to {url}; delete it first to make a new one")
    # The same URL within Stripe's 24 h key window gives back the same endpoint.
    key = "payops-webhook-endpoint-" + hashlib.sha256(url.encode()).hexdigest()[:32]
    return gateway.create_webhook_endpoint(
        idempotency_key=key, url=url, enabled_events=STRIPE_EVENT_TYPES, description="PayOps webhook inbox"
    )
