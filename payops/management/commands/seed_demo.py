"""manage.py seed_demo: demo users and a day of activity for the embedded setup."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from dunning.models import RecoveryCase
from dunning.synthetic_history import generate_history
from fraud import synthetic_history as fraud_history
from fraud.models import Assessment
from payops.demo_data import DEMO_USERS, seed_demo
from payops.env import env_str
from payops.models import InboundEvent


class Command(BaseCommand):
    help = (
        "Create the demo users (admin, approver, reviewer, viewer), the demo's workflow policies and a day of "
        "past Stripe events for the Activity page, plus the synthetic histories the retry and fraud models "
        "learn from. It proposes nothing: the review queue fills from the running demo. "
        "Safe to run again: existing data is kept.\n"
        "Example: manage.py seed_demo --events 120"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--events", type=int, default=120, help="Stripe events to generate (default 120)")
        parser.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable day")
        parser.add_argument("--force", action="store_true", help="add another day even if demo data exists")
        parser.add_argument(
            "--fraud-bookings",
            type=int,
            default=20000,
            help="synthetic assessed and labelled bookings for the fraud model (default 20000; 0 for none)",
        )
        parser.add_argument(
            "--recovery-cases",
            type=int,
            default=3000,
            help="synthetic failed-payment history for the retry model (default 3000; 0 for none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo makes users with a published password; it runs only with DJANGO_DEBUG=true")
        if not 0 <= options["events"] <= 100_000:
            raise CommandError("--events must be between 0 and 100000")
        password = env_str("PAYOPS_DEMO_PASSWORD", "payops-demo")
        events = options["events"]
        if InboundEvent.objects.filter(event_id__startswith="evt_demo").exists() and not options["force"]:
            self.stdout.write("demo events already present; use --force to add another day")
            events = 0

        def progress(done: int) -> None:
            if done % 20 == 0 or done == events:
                self.stdout.write(f"  {done}/{events} events")

        summary = seed_demo(password=password, events=events, seed=options["seed"], progress=progress)
        self.stdout.write(self.style.SUCCESS(f"seeded {summary.users} new users, {summary.events} events"))
        if summary.retired:
            self.stdout.write(f"expired {summary.retired} made-up review items an older seed_demo queued")
        self.stdout.write(f"demo logins: {', '.join(DEMO_USERS)} (password from PAYOPS_DEMO_PASSWORD or 'payops-demo')")
        self.seed_recovery_history(options["recovery_cases"], options["seed"])
        self.seed_fraud_history(options["fraud_bookings"], options["seed"])

    def seed_recovery_history(self, cases: int, seed: int) -> None:
        """Six months of made-up recoveries, so `train_retry_model` has something to learn from."""
        if not 0 <= cases <= 100_000:
            raise CommandError("--recovery-cases must be between 0 and 100000")
        if not cases or RecoveryCase.objects.exists():
            return

        shown: set[int] = set()

        def progress(done: int, total: int) -> None:
            if (done % 500 == 0 or done == total) and done not in shown:
                shown.add(done)
                self.stdout.write(f"  {done}/{total} synthetic recovery cases")

        written = generate_history(cases=cases, seed=seed, end=timezone.now(), progress=progress)
        self.stdout.write(self.style.SUCCESS(f"seeded {written} synthetic recovery cases for the retry model"))

    def seed_fraud_history(self, bookings: int, seed: int) -> None:
        """A year of made-up assessed and labelled bookings, so `train_fraud_model` has something to learn from."""
        if not 0 <= bookings <= 200_000:
            raise CommandError("--fraud-bookings must be between 0 and 200000")
        if not bookings or Assessment.objects.filter(booking_code__startswith=fraud_history.PREFIX).exists():
            return

        def progress(done: int) -> None:
            if done % 5000 == 0 or done == bookings:
                self.stdout.write(f"  {done}/{bookings} synthetic fraud-scored bookings")

        # Ending past the label maturity, so every unlabelled one counts as legitimate.
        end = timezone.now() - timedelta(days=settings.FRAUD_LABEL_MATURITY_DAYS + 1)
        fraud = fraud_history.generate(bookings=bookings, end=end, seed=seed, progress=progress)
        self.stdout.write(self.style.SUCCESS(f"seeded {bookings} synthetic scored bookings ({fraud} fraud)"))
