"""Subscribing PayOps's inbox to a Stripe account's events (a one-off setup step)."""

from __future__ import annotations

import ipaddress
import uuid
from urllib.parse import urlsplit

import stripe

from payops.stripe_gateway import StripeGateway
from payops.stripe_handlers import STRIPE_EVENT_TYPES

# What a restricted key needs for everything PayOps does (README: "Pointing
# PayOps at a real Stripe account"), as Stripe names the permissions in its
# 403 answers. Write includes read. setup_stripe_webhook also needs
# rak_webhook_write, once; that is left out so the running key cannot
# redirect the account's events.
RESTRICTED_KEY_PERMISSIONS = {
    "rak_customer_write": "find or create the booking's customer",
    "rak_payment_intent_write": "create, confirm (retries), capture and cancel payments",
    "rak_payment_method_write": "attach a saved card; list a customer's cards",
    "rak_setup_intent_write": "save a card for off-session retries",
    "rak_charge_read": "the mirror: charge outcome, risk, refunds",
    "rak_refund_write": "refunds by policy",
    "rak_dispute_write": "submit evidence, accept a dispute",
    "rak_product_write": "the catalogue of Checkfront items",
    "rak_plan_write": "prices (Stripe's permission for prices is still called plan)",
    "rak_balance_transaction_source_read": "fees and net amounts in the mirror",
    "rak_radar_early_fraud_warning_read": "fraud labels",
    "rak_accounts_kyc_basic_read": "dj-stripe reads the account once per key (GET /v1/account)",
}


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
    # A fresh key each run: replaying an earlier run's answer would hand back
    # an endpoint the operator has since deleted. The check above stops doubles.
    return gateway.create_webhook_endpoint(
        idempotency_key=f"payops-webhook-endpoint-{uuid.uuid4()}",
        url=url,
        enabled_events=STRIPE_EVENT_TYPES,
        description="PayOps webhook inbox",
        # Events rendered in the version stripe-python and dj-stripe expect,
        # whatever the account's default.
        api_version=stripe.api_version,
    )
