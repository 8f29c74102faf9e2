"""manage.py simulate_customers: demo customers pay their open pay links, some with failing cards."""

from __future__ import annotations

import random
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payops.demo_customers import BEHAVIOURS, NotAStandIn, book_again, pay_waiting


class Command(BaseCommand):
    help = (
        "Demo only, against the local Stripe stand-in: customers open their pay links and pay, "
        f"some with cards that fail ({', '.join(b.name for b in BEHAVIOURS)}).\n"
        "Example: manage.py simulate_customers --interval 20 --per-round 2"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0, help="seconds between rounds (0: one round)")
        parser.add_argument("--per-round", type=int, default=2, help="customers who pay each round")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--returning",
            type=float,
            default=0.3,
            help="chance per round that a past customer books again (their saved card is charged at once)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG or not settings.STRIPE_API_BASE:
            raise CommandError("simulate_customers is a demo: it needs DEBUG and the local Stripe stand-in")
        if options["interval"] < 0 or options["per_round"] < 1 or not 0 <= options["returning"] <= 1:
            raise CommandError("--interval must be >= 0, --per-round >= 1 and --returning within 0..1")
        rng = random.Random(options["seed"])
        while True:
            try:
                for code, what in pay_waiting(limit=options["per_round"], rng=rng):
                    self.stdout.write(f"{code}: {what}")
                if rng.random() < options["returning"] and (again := book_again(rng)):
                    self.stdout.write(again)
            except (NotAStandIn, OSError) as exc:
                raise CommandError(str(exc)) from exc
            if not options["interval"]:
                return
            time.sleep(options["interval"])
