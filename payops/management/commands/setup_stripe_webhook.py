"""manage.py setup_stripe_webhook: subscribe PayOps's inbox to the Stripe account's events."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payops.stripe_gateway import StripeGatewayError, stripe_gateway
from payops.stripe_handlers import STRIPE_EVENT_TYPES
from payops.stripe_setup import WebhookSetupError, subscribe_inbox


class Command(BaseCommand):
    help = (
        "Create the Stripe webhook endpoint for PayOps's inbox with every event type PayOps handles, "
        "and print its signing secret for STRIPE_WEBHOOK_SECRETS.\n"
        "Example: manage.py setup_stripe_webhook https://payops.example.com/webhooks/stripe/"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="the public URL of /webhooks/stripe/")
        parser.add_argument("--dry-run", action="store_true", help="print the event types, create nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            self.stdout.write("\n".join(STRIPE_EVENT_TYPES))
            self.stdout.write(f"{len(STRIPE_EVENT_TYPES)} event types would be subscribed (dry run)")
            return
        try:
            endpoint = subscribe_inbox(gateway=stripe_gateway(), url=options["url"])
        except (WebhookSetupError, StripeGatewayError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"created {endpoint.id} for {endpoint.url} ({len(endpoint.enabled_events)} event types)")
        self.stdout.write(f"signing secret (shown once; add it to STRIPE_WEBHOOK_SECRETS): {endpoint.secret}")
