"""manage.py sync_checkfront: bring the booking mirror up to date with Checkfront."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bookings.checkfront_client import CheckfrontError
from bookings.sync import SyncAlreadyRunning, SyncSummary, sync_bookings
from payops.command_args import iso_datetime


class Command(BaseCommand):
    help = (
        "Sync bookings from Checkfront into the mirror: by default everything changed since the last run "
        "(with an overlap window), or --full, or --since a time.\n"
        "Example: manage.py sync_checkfront --since 2026-11-01T00:00:00Z"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--full", action="store_true", help="read every booking, ignoring the cursor")
        group.add_argument("--since", type=iso_datetime, help="read bookings modified after this ISO date-time")
        parser.add_argument("--no-details", action="store_true", help="index rows only; details on a later run")
        parser.add_argument("--page-size", type=int, default=250, help="index page size, 1-250 (default 250)")
        parser.add_argument("--detail-workers", type=int, help="concurrent detail reads (default from settings)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["page_size"] <= 250:
            raise CommandError("--page-size must be between 1 and 250")
        if options["detail_workers"] is not None and not 1 <= options["detail_workers"] <= 32:
            raise CommandError("--detail-workers must be between 1 and 32")
        try:
            summary = sync_bookings(
                full=options["full"],
                since=options["since"],
                details=not options["no_details"],
                page_size=options["page_size"],
                detail_workers=options["detail_workers"],
                progress=self.show_progress,
            )
        except SyncAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        except CheckfrontError as exc:
            raise CommandError(f"Checkfront sync stopped: {exc} (the cursor did not move; run again)") from exc
        if self.stdout.isatty():
            self.stdout.write("")
        for error in summary.errors[:20]:
            self.stderr.write(f"  {error}")
        self.stdout.write(summary.line())
        if summary.failed:
            raise CommandError(f"{summary.failed} bookings failed; the cursor did not move, so a rerun retries them")

    def show_progress(self, summary: SyncSummary, total: int) -> None:
        width = 30
        done = min(summary.seen, total) if total else summary.seen
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        text = f"[{bar}] {done}/{total} bookings, {summary.details} details, {summary.failed} failed"
        if self.stdout.isatty():
            sys.stdout.write("\r" + text)
            sys.stdout.flush()
        elif summary.pages % 20 == 1 or done == total:
            self.stdout.write(text)
