"""Sending stored events to the workers, in batches, outside the webhook request.

The webhook view only inserts a row (queued_at empty). This loop claims such
rows, marks them queued, and publishes their tasks through one broker
connection: the request stays one INSERT, and the publish cost is shared by
a batch. Marking and publishing are separate steps, so a crash between them
leaves rows marked but unsent: the beat sweep sends those again after
INBOX_STUCK_AFTER_SECONDS. Running two dispatchers is safe: on PostgreSQL
they skip each other's locked rows, and a row sent twice is claimed once.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, transaction
from django.utils import timezone

from payops.dispatch import send_event_batches
from payops.models import EventStatus, InboundEvent

logger = logging.getLogger(__name__)

BATCH = 200
# Events per message: one publish carries this many, so a burst costs a few
# messages, while a batch still spreads over several workers.
EVENTS_PER_MESSAGE = 20


def dispatch_pending(*, limit: int = BATCH) -> int:
    """Queue up to `limit` stored events that no message was sent for. Returns how many."""
    with transaction.atomic():
        pks = list(
            InboundEvent.objects.select_for_update(skip_locked=True)
            .filter(status=EventStatus.RECEIVED, queued_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not pks:
            return 0
        InboundEvent.objects.filter(pk__in=pks).update(queued_at=timezone.now())
    # Marked but not sent if the broker is down: the sweep sends them once it is back.
    return len(pks) if send_event_batches(pks, per_message=EVENTS_PER_MESSAGE) else 0


def run_dispatcher(*, idle_seconds: float, stop: threading.Event) -> int:
    """Dispatch until `stop` is set, sleeping `idle_seconds` whenever nothing waits. Returns the total sent."""
    sent = 0
    while not stop.is_set():
        try:
            batch = dispatch_pending()
        except Exception:  # a database hiccup must not end the loop; the next pass retries
            logger.exception("inbox dispatch failed; retrying")
            close_old_connections()
            batch = 0
        sent += batch
        if batch < BATCH:
            stop.wait(idle_seconds)
    return sent


def dispatch_until_idle(*, timeout: float = 10.0) -> int:
    """Dispatch until nothing waits (tests and one-off runs). Returns the total sent."""
    sent = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = dispatch_pending()
        sent += batch
        if batch == 0:
            break
    return sent
