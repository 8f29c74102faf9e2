"""manage.py run_stripe_sim: serve the local Stripe stand-in (API, webhooks, control API) on 127.0.0.1."""

from __future__ import annotations

import math
import os
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payops.stripe_sim import DEFAULT_WEBHOOK_SECRET, StripeSimulator
from payops.stripe_sim.errors import StripeError

DEFAULT_PORT = 8420


def _env_port() -> int:
    raw = os.environ.get("STRIPE_SIM_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise CommandError(f"STRIPE_SIM_PORT must be a port number (0-65535), not {raw!r}")
    return int(raw)


class Command(BaseCommand):
    help = (
        "Serve a local stand-in for Stripe's API on 127.0.0.1: strict parameters, Stripe's test cards and decline "
        "codes, disputes, refunds, signed webhooks with retries, a control API under /_sim/ and optional demo "
        "activity. Its own SQLite store keeps the account across restarts. Ctrl-C stops it.\n"
        "Example: manage.py run_stripe_sim --webhook-url http://127.0.0.1:8000/webhooks/stripe/ "
        "--activity-interval 5 --seed 1"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, help=f"port on 127.0.0.1 (default STRIPE_SIM_PORT or {DEFAULT_PORT}; 0 = any free)"
        )
        parser.add_argument("--db", default=None, help="its SQLite store (default <PAYOPS_VAR_DIR>/stripe-sim.sqlite3)")
        parser.add_argument("--reset", action="store_true", help="forget every object first (the account stays)")
        parser.add_argument("--webhook-url", default=None, help="deliver events here (default STRIPE_SIM_WEBHOOK_URL)")
        parser.add_argument(
            "--webhook-secret",
            default=None,
            help=f"signing secret (default STRIPE_SIM_WEBHOOK_SECRET or {DEFAULT_WEBHOOK_SECRET})",
        )
        parser.add_argument(
            "--activity-interval", type=float, default=None, help="make a realistic payment every N seconds"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed for --activity-interval")
        parser.add_argument("--no-serve", action="store_true", help="prepare the store and webhook, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        settings = self.validate(options)
        sim = StripeSimulator(db_path=settings["db"], port=settings["port"])
        try:
            self.prepare(sim, settings)
            if options["no_serve"]:
                self.stdout.write(self.style.SUCCESS(f"store ready: {sim.store.path} (account {sim.account_id})"))
                return
            sim.start()
            self.announce(sim, settings)
            if settings["activity_interval"]:
                sim.start_activity(settings["activity_interval"], seed=settings["seed"])
            try:
                while not sim.stopping.wait(0.5):
                    pass
            except KeyboardInterrupt:
                self.stdout.write("stopping")
            stats = sim.stats()
            self.stdout.write(
                self.style.SUCCESS(
                    f"served {stats['api_requests']['total']} API calls; webhooks: "
                    f"{stats['webhooks']['delivered']} delivered, {stats['webhooks']['failed']} failed attempts"
                )
            )
        except OSError as exc:
            raise CommandError(f"cannot serve on 127.0.0.1:{settings['port']}: {exc}") from exc
        finally:
            sim.stop()

    def validate(self, options: dict[str, Any]) -> dict[str, Any]:
        port = options["port"] if options["port"] is not None else _env_port()
        if not 0 <= port <= 65535:
            raise CommandError("--port must be between 0 and 65535")
        interval = options["activity_interval"]
        if interval is not None and not (math.isfinite(interval) and interval > 0):
            raise CommandError("--activity-interval must be a positive, finite number of seconds")
        url = options["webhook_url"] or os.environ.get("STRIPE_SIM_WEBHOOK_URL") or None
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise CommandError(f"--webhook-url must be an http:// or https:// URL, not {url!r}")
        secret = options["webhook_secret"] or os.environ.get("STRIPE_SIM_WEBHOOK_SECRET") or DEFAULT_WEBHOOK_SECRET
        if not secret.startswith("whsec_"):
            raise CommandError("--webhook-secret must look like Stripe's: whsec_…")
        return {
            "port": port,
            # Beside the rest of the instance's state, so PAYOPS_VAR_DIR moves it too.
            "db": options["db"] or str(django_settings.VAR_DIR / "stripe-sim.sqlite3"),
            "reset": options["reset"],
            "webhook_url": url,
            "webhook_secret": secret,
            "activity_interval": interval,
            "seed": options["seed"],
        }

    def prepare(self, sim: StripeSimulator, settings: dict[str, Any]) -> None:
        """Reset and configure the webhook as asked; CommandError on refused settings."""
        if settings["reset"]:
            sim.reset()
            self.stdout.write("store emptied")
        if settings["webhook_url"]:
            try:
                sim.configure_webhook(settings["webhook_url"], secret=settings["webhook_secret"])
            except StripeError as exc:
                raise CommandError(exc.message) from exc

    def announce(self, sim: StripeSimulator, settings: dict[str, Any]) -> None:
        endpoints = sim.webhook_state(limit=0)["endpoints"]
        self.stdout.write(self.style.SUCCESS(f"Stripe simulator on {sim.url}"))
        self.stdout.write(f"  API base:    {sim.url}  (STRIPE_API_BASE; any sk_test_/rk_test_ key)")
        self.stdout.write(f"  account:     {sim.account_id}")
        self.stdout.write(f"  control API: {sim.url}/_sim/ (stats, clock, declines, faults, webhooks, disputes)")
        self.stdout.write(f"  store:       {sim.store.path}")
        for endpoint in endpoints:
            self.stdout.write(
                f"  webhook:     {endpoint['url']} ({endpoint['status']}, {','.join(endpoint['enabled_events'])})"
            )
        if not endpoints:
            self.stdout.write("  webhooks:    none (--webhook-url, POST /_sim/webhooks or /v1/webhook_endpoints)")
        if settings["activity_interval"]:
            self.stdout.write(f"  activity:    a payment every {settings['activity_interval']:g} s")
        self.stdout.write("Ctrl-C to stop.")
