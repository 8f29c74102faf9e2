"""manage.py run_checkfront_sim: serve the local Checkfront API 3.0 simulator (and its webhooks) on 127.0.0.1."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings as django_settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bookings.checkfront_sim import CheckfrontSimulator
from bookings.checkfront_sim.account import DEFAULT_API_KEY, DEFAULT_API_SECRET
from bookings.checkfront_sim.errors import SimulatorError
from bookings.checkfront_sim.payload_formats import FORMATS

MAX_SEED_BOOKINGS = 1_000_000


def _env_port() -> int:
    raw = os.environ.get("CHECKFRONT_SIM_PORT", "").strip()
    if not raw:
        return 8020
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise CommandError(f"CHECKFRONT_SIM_PORT must be a port number (0-65535), not {raw!r}")
    return int(raw)


class Command(BaseCommand):
    help = (
        "Serve a local stand-in for Checkfront's API 3.0 and its webhooks on 127.0.0.1, with its own SQLite "
        "store, a control API under /_sim/ and optional demo activity. Ctrl-C stops it.\n"
        "Example: manage.py run_checkfront_sim --reset --seed-bookings 5000 "
        "--webhook-url http://127.0.0.1:8000/webhooks/checkfront/<token>/ --activity-interval 5"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default CHECKFRONT_SIM_PORT or 8020; 0 = any)")
        parser.add_argument(
            "--db", default=None, help="its SQLite store (default <PAYOPS_VAR_DIR>/checkfront-sim.sqlite3)"
        )
        parser.add_argument("--reset", action="store_true", help="empty the store first (webhook settings are kept)")
        parser.add_argument("--seed-bookings", type=int, default=0, help="seed this many bookings into an empty store")
        parser.add_argument("--seed", type=int, default=1, help="random seed for --seed-bookings (default 1)")
        parser.add_argument(
            "--webhook-url", default=None, help="booking webhook URL (default CHECKFRONT_SIM_WEBHOOK_URL)"
        )
        parser.add_argument(
            "--transaction-webhook-url", default=None, help="payment/refund webhook URL (default: the booking URL)"
        )
        parser.add_argument("--webhook-format", choices=FORMATS, default="json", help="webhook body format")
        parser.add_argument(
            "--activity-interval", type=float, default=None, help="every N seconds create/modify/pay a booking"
        )
        parser.add_argument("--api-key", default=None, help="API key (default CHECKFRONT_API_KEY or payops-sim-key)")
        parser.add_argument(
            "--api-secret", default=None, help="API secret (default CHECKFRONT_API_SECRET or payops-sim-secret)"
        )
        parser.add_argument("--no-serve", action="store_true", help="prepare the store and webhooks, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        settings = self.validate(options)
        sim = CheckfrontSimulator(
            db_path=settings["db"],
            port=settings["port"],
            api_key=settings["api_key"],
            api_secret=settings["api_secret"],
        )
        try:
            self.prepare(sim, settings)
            if options["no_serve"]:
                self.stdout.write(self.style.SUCCESS(f"store ready: {sim.store.path}"))
                return
            sim.start()
            self.announce(sim, settings)
            if settings["activity_interval"]:
                sim.start_activity(settings["activity_interval"])
            try:
                while not sim.stopping.wait(0.5):
                    pass
            except KeyboardInterrupt:
                self.stdout.write("stopping")
            stats = sim.stats()
            self.stdout.write(
                self.style.SUCCESS(
                    f"served {stats['api_requests']['total']} API calls; webhooks: {stats['webhooks']['delivered']} "
                    f"delivered, {stats['webhooks']['failed']} failed"
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
        if not 0 <= options["seed_bookings"] <= MAX_SEED_BOOKINGS:
            raise CommandError(f"--seed-bookings must be between 0 and {MAX_SEED_BOOKINGS}")
        interval = options["activity_interval"]
        if interval is not None and interval <= 0:
            raise CommandError("--activity-interval must be a positive number of seconds")
        api_key = options["api_key"] or os.environ.get("CHECKFRONT_API_KEY") or DEFAULT_API_KEY
        api_secret = options["api_secret"] or os.environ.get("CHECKFRONT_API_SECRET") or DEFAULT_API_SECRET
        webhook_url = options["webhook_url"] or os.environ.get("CHECKFRONT_SIM_WEBHOOK_URL") or None
        return {
            "port": port,
            # Beside the rest of the instance's state, so PAYOPS_VAR_DIR moves it too.
            "db": options["db"] or str(django_settings.VAR_DIR / "checkfront-sim.sqlite3"),
            "reset": options["reset"],
            "seed_bookings": options["seed_bookings"],
            "seed": options["seed"],
            "webhook_url": webhook_url,
            "transaction_webhook_url": options["transaction_webhook_url"] or webhook_url,
            "webhook_format": options["webhook_format"],
            "activity_interval": interval,
            "api_key": api_key,
            "api_secret": api_secret,
        }

    def prepare(self, sim: CheckfrontSimulator, settings: dict[str, Any]) -> None:
        """Reset, seed and configure webhooks as asked; CommandError on refused settings."""
        if settings["reset"]:
            sim.reset()
            self.stdout.write("store emptied")
        wanted = settings["seed_bookings"]
        if wanted:
            existing = sim.stats()["bookings"]
            if existing:
                self.stdout.write(f"store already has {existing} bookings; not seeding (use --reset to reseed)")
            else:
                self.stdout.write(f"seeding {wanted} bookings (seed {settings['seed']})")

                def progress(done: int, total: int) -> None:
                    self.stdout.write(f"  {done}/{total} bookings")

                summary = sim.seed(bookings=wanted, seed=settings["seed"], progress=progress)
                self.stdout.write(
                    self.style.SUCCESS(
                        f"seeded {summary.bookings} bookings, {summary.customers} customers, "
                        f"{summary.transactions} transactions, {summary.notes} notes in {summary.seconds} s"
                    )
                )
        if settings["webhook_url"] or settings["transaction_webhook_url"]:
            try:
                sim.configure_webhooks(
                    booking_url=settings["webhook_url"],
                    transaction_url=settings["transaction_webhook_url"],
                    format=settings["webhook_format"],
                )
            except SimulatorError as exc:
                raise CommandError(str(exc)) from exc

    def announce(self, sim: CheckfrontSimulator, settings: dict[str, Any]) -> None:
        state = sim.webhook_state(limit=0)
        self.stdout.write(self.style.SUCCESS(f"Checkfront simulator on {sim.url}"))
        self.stdout.write(f"  API base:    {sim.api_url}")
        self.stdout.write(f"  credentials: {settings['api_key']} / {settings['api_secret']} (HTTP Basic)")
        self.stdout.write(f"  control API: {sim.url}/_sim/ (stats, reset, bookings, webhooks, faults)")
        self.stdout.write(f"  store:       {sim.store.path}")
        if state["endpoints"]:
            self.stdout.write(
                f"  webhooks:    booking -> {state['booking_url']}, transaction -> {state['transaction_url']}"
                f" ({state['format']}{'' if state['enabled'] else ', DISABLED'})"
            )
        else:
            self.stdout.write("  webhooks:    none configured (--webhook-url or POST /_sim/webhooks)")
        if settings["activity_interval"]:
            self.stdout.write(f"  activity:    a booking change every {settings['activity_interval']:g} s")
        self.stdout.write("Ctrl-C to stop.")
