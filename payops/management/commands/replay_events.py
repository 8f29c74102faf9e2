"""manage.py replay_events: send finished inbound events through processing again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from payops.command_args import iso_datetime
from payops.event_processing import REPLAYABLE, process_event, replay_events
from payops.models import EventSource, InboundEvent


class Command(BaseCommand):
    help = (
        "Replay stored webhook events (failed ones by default) through their handlers.\n"
        "Example: manage.py replay_events --status failed --source stripe --type 'payment_intent.*' "
        "--since 2026-11-26T00:00:00Z"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--status",
            action="append",
            choices=list(REPLAYABLE),
            help="status to replay (repeatable; default: failed)",
        )
        parser.add_argument("--source", choices=EventSource.values)
        parser.add_argument("--type", dest="event_type", help="event type; a trailing * matches a prefix")
        parser.add_argument("--since", type=iso_datetime, help="received at or after (ISO date-time)")
        parser.add_argument("--until", type=iso_datetime, help="received before (ISO date-time)")
        parser.add_argument("--id", dest="event_ids", action="append", help="source event id (repeatable)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")
        parser.add_argument(
            "--sync", action="store_true", help="process here and now instead of queueing for the worker"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        events = self.select(options)
        total = events.count()
        if options["dry_run"]:
            for event in events.order_by("received_at")[:1000]:
                self.stdout.write(f"{event.source} {event.event_id} {event.event_type} ({event.status})")
            self.stdout.write(f"{total} events would be replayed (dry run, nothing changed)")
            return
        replayed = replay_events(events, actor=None, via="manage.py replay_events", enqueue=not options["sync"])
        self.stdout.write(f"queued {len(replayed)} of {total} matching events")
        if options["sync"]:
            self.process_now(replayed)

    def select(self, options: dict[str, Any]) -> QuerySet[InboundEvent]:
        events = InboundEvent.objects.filter(status__in=options["status"] or ["failed"])
        if options["source"]:
            events = events.filter(source=options["source"])
        event_type: str | None = options["event_type"]
        if event_type:
            if event_type.endswith("*"):
                events = events.filter(event_type__startswith=event_type[:-1])
            else:
                events = events.filter(event_type=event_type)
        if options["since"]:
            events = events.filter(received_at__gte=options["since"])
        if options["until"]:
            events = events.filter(received_at__lt=options["until"])
        if options["event_ids"]:
            events = events.filter(event_id__in=options["event_ids"])
        return events

    def process_now(self, pks: list[int]) -> None:
        outcomes: dict[str, int] = {}
        for done, pk in enumerate(pks, start=1):
            status = process_event(pk) or "skipped"
            outcomes[status] = outcomes.get(status, 0) + 1
            if done % 100 == 0 or done == len(pks):
                self.stdout.write(f"  processed {done}/{len(pks)}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(outcomes.items())) or "nothing"
        self.stdout.write(f"done: {summary}")
        if outcomes.get("failed") or outcomes.get("retrying"):
            raise CommandError("some replayed events failed again; see their last_error in the admin")
