"""manage.py run_inbox_dispatcher: send stored webhook events to the workers as they arrive."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payops.inbox_dispatcher import dispatch_until_idle, run_dispatcher


class Command(BaseCommand):
    help = (
        "Send stored webhook events to the Celery workers in batches (the webhook request only stores them).\n"
        "Example: manage.py run_inbox_dispatcher --idle-ms 50"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--idle-ms", type=int, default=50, help="pause when nothing waits (default 50 ms)")
        parser.add_argument("--once", action="store_true", help="send what waits now, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["idle_ms"] <= 10_000:
            raise CommandError("--idle-ms must be between 1 and 10000")
        if options["once"]:
            self.stdout.write(f"sent {dispatch_until_idle()} events")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"inbox dispatcher running (idle pause {options['idle_ms']} ms)")
        sent = run_dispatcher(idle_seconds=options["idle_ms"] / 1000, stop=stop)
        self.stdout.write(f"inbox dispatcher stopped after sending {sent} events")
