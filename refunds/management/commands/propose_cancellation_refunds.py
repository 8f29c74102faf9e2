"""manage.py propose_cancellation_refunds: work out the refunds of cancelled bookings that have none yet."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from bookings.models import Booking, BookingStatus
from payops.stripe_errors import StripeGatewayError
from refunds.cancellations import propose_for_cancellation
from refunds.models import CancellationRefund


class Command(BaseCommand):
    help = (
        "Work out and propose the refund of each cancelled booking that has none yet: the backstop when a "
        "cancellation's task was lost or Stripe was down. Each booking is proposed once, however often this runs.\n"
        "Examples: manage.py propose_cancellation_refunds --days 7; manage.py propose_cancellation_refunds "
        "--booking KMVQ-060314"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--booking", action="append", default=[], help="this booking code (repeatable)")
        parser.add_argument(
            "--days", type=int, help="bookings cancelled (mirrored as changed) in the last N days (default 7)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        options["days_given"] = options["days"] is not None
        options["days"] = 7 if options["days"] is None else options["days"]
        codes: list[str] = [c.strip() for c in options["booking"] if c.strip()]
        if codes and options["days_given"]:
            raise CommandError("give --booking or --days, not both")
        if codes:
            known = set(Booking.objects.filter(code__in=codes).values_list("code", flat=True))
            if missing := sorted(set(codes) - known):
                raise CommandError(f"no mirrored booking with code {', '.join(missing)}: run the Checkfront sync")
            cancelled = set(
                Booking.objects.filter(code__in=codes, status__in=[BookingStatus.STOP, BookingStatus.VOID]).values_list(
                    "code", flat=True
                )
            )
            if not_cancelled := sorted(set(codes) - cancelled):
                raise CommandError(f"not cancelled or voided in Checkfront: {', '.join(not_cancelled)}")
        else:
            if not 1 <= options["days"] <= 366:
                raise CommandError(f"--days takes 1 to 366, not {options['days']}")
            since = timezone.now() - timedelta(days=options["days"])
            done = CancellationRefund.objects.values("booking_code")
            codes = list(
                Booking.objects.filter(status__in=[BookingStatus.STOP, BookingStatus.VOID], updated_at__gte=since)
                .exclude(code__in=done)
                .order_by("updated_at")
                .values_list("code", flat=True)
            )
        failed = 0
        for n, code in enumerate(codes, 1):
            try:
                row = propose_for_cancellation(code)
            except StripeGatewayError as exc:
                failed += 1
                self.stderr.write(f"[{n}/{len(codes)}] {code}: Stripe: {exc}")
                continue
            self.stdout.write(f"[{n}/{len(codes)}] {code}: {row or 'already worked out'}")
        self.stdout.write(f"{len(codes) - failed} of {len(codes)} cancelled bookings worked out")
        if failed:
            raise CommandError(f"{failed} could not be worked out now (Stripe); run again later")
