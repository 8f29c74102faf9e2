"""manage.py simulate_customers: demo customers pay their pay links (some with failing cards), and visitors book."""

from __future__ import annotations

import random
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payops.demo_customers import BEHAVIOURS, VISITS, DemoCustomers, NotAStandIn


class Command(BaseCommand):
    help = (
        "Demo only, against the local stand-ins: customers open their pay links and pay, "
        f"some with cards that fail ({', '.join(b.name for b in BEHAVIOURS)}); and someone books: "
        "first each of these once, in order, then now and then one: "
        f"{'; '.join(v.name for v in VISITS)}.\n"
        "Example: manage.py simulate_customers --interval 20 --per-round 2"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0, help="seconds between rounds (0: one round)")
        parser.add_argument("--per-round", type=int, default=2, help="customers who pay each round")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--visits",
            type=float,
            default=0.3,
            help="chance per round that someone books, once each visitor has come once (0: nobody books)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG or not settings.STRIPE_API_BASE:
            raise CommandError("simulate_customers is a demo: it needs DEBUG and the local Stripe stand-in")
        if options["interval"] < 0 or options["per_round"] < 1 or not 0 <= options["visits"] <= 1:
            raise CommandError("--interval must be >= 0, --per-round >= 1 and --visits within 0..1")
        customers = DemoCustomers(
            rng=random.Random(options["seed"]), per_round=options["per_round"], visit_chance=options["visits"]
        )
        while True:
            try:
                for line in customers.round():
                    self.stdout.write(line)
            except NotAStandIn as exc:
                raise CommandError(str(exc)) from exc
            if not options["interval"]:
                if customers.errors:
                    raise CommandError(f"{customers.errors} visit(s) failed; see the log")
                return
            time.sleep(options["interval"])
