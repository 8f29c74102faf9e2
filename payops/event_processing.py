"""Processing stored events: claim, dispatch to a handler, retry, sweep, replay."""

from __future__ import annotations

import logging
import random
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from payops.dispatch import queue_event_processing
from payops.event_handlers import handler_for
from payops.models import EventStatus, InboundEvent
from payops.trace import bound_trace

logger = logging.getLogger(__name__)

CLAIMABLE = (EventStatus.RECEIVED, EventStatus.RETRYING)
REPLAYABLE = (EventStatus.FAILED, EventStatus.IGNORED, EventStatus.PROCESSED)
MAX_ERROR_CHARS = 10_000


def retry_delay_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: base, 2×base, 4×base … capped at an hour."""
    base: int = settings.INBOX_RETRY_BASE_SECONDS
    delay = min(base * 2 ** max(attempts - 1, 0), 3600)
    return delay * random.uniform(0.8, 1.2)


def process_event(event_pk: int) -> str | None:
    """Run the event's handler once. Returns the new status, or None if not claimed.

    Safe to call twice at the same time: the conditional update lets exactly
    one caller claim the event; the other returns None and does nothing.
    """
    now = timezone.now()
    claimed = InboundEvent.objects.filter(pk=event_pk, status__in=CLAIMABLE).update(
        status=EventStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        logger.info("event %s not claimable (done, in flight or missing)", event_pk)
        return None
    event = InboundEvent.objects.get(pk=event_pk)
    with bound_trace(event.trace_id):
        handler = handler_for(event.source, event.event_type)
        if handler is None:
            _finish(event, EventStatus.IGNORED)
            logger.info("no handler for %s %s; marked ignored", event.source, event.event_type)
            return EventStatus.IGNORED
        try:
            # Handlers own their transactions (no network I/O inside them) and
            # are state-idempotent, so a crash after the handler but before
            # the status write only means the handler runs again harmlessly.
            handler(event)
        except Exception as exc:  # noqa: BLE001 - any handler failure is recorded, retried, then shown as failed
            return _record_failure(event, exc)
        _finish(event, EventStatus.PROCESSED)
        logger.info("processed %s %s", event.source, event.event_type)
        return EventStatus.PROCESSED


def _finish(event: InboundEvent, status: str) -> None:
    InboundEvent.objects.filter(pk=event.pk, status=EventStatus.PROCESSING).update(
        status=status, processed_at=timezone.now(), next_attempt_at=None
    )


def _record_failure(event: InboundEvent, exc: Exception) -> str:
    error = "".join(traceback.format_exception(exc))[-MAX_ERROR_CHARS:]
    attempts = event.attempts
    if attempts >= settings.INBOX_MAX_ATTEMPTS:
        InboundEvent.objects.filter(pk=event.pk, status=EventStatus.PROCESSING).update(
            status=EventStatus.FAILED, last_error=error, next_attempt_at=None
        )
        logger.error("event %s failed for good after %s attempts", event.pk, attempts, extra={"event_pk": event.pk})
        return EventStatus.FAILED
    delay = retry_delay_seconds(attempts)
    with transaction.atomic():
        InboundEvent.objects.filter(pk=event.pk, status=EventStatus.PROCESSING).update(
            status=EventStatus.RETRYING,
            last_error=error,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
        queue_event_processing(event.pk, countdown=delay)
    logger.warning(
        "event %s failed (attempt %s), retrying in %.0fs: %s",
        event.pk,
        attempts,
        delay,
        exc,
        extra={"event_pk": event.pk},
    )
    return EventStatus.RETRYING


@dataclass(frozen=True)
class SweepResult:
    stuck_received: int
    due_retries: int
    expired_claims: int

    @property
    def total(self) -> int:
        return self.stuck_received + self.due_retries + self.expired_claims


def sweep_inbox(*, now: datetime | None = None) -> SweepResult:
    """Queue again what a lost message or a dead worker left behind."""
    now = now or timezone.now()
    stuck_after = timedelta(seconds=settings.INBOX_STUCK_AFTER_SECONDS)
    lease = timedelta(seconds=settings.INBOX_PROCESSING_LEASE_SECONDS)

    stuck = list(
        InboundEvent.objects.filter(status=EventStatus.RECEIVED, received_at__lt=now - stuck_after).values_list(
            "pk", flat=True
        )
    )
    due = list(
        InboundEvent.objects.filter(status=EventStatus.RETRYING, next_attempt_at__lt=now - stuck_after).values_list(
            "pk", flat=True
        )
    )
    expired: list[int] = []
    for pk in InboundEvent.objects.filter(status=EventStatus.PROCESSING, claimed_at__lt=now - lease).values_list(
        "pk", flat=True
    ):
        # Conditional, so a worker that finishes at this moment keeps its result.
        if InboundEvent.objects.filter(pk=pk, status=EventStatus.PROCESSING, claimed_at__lt=now - lease).update(
            status=EventStatus.RETRYING, next_attempt_at=now
        ):
            expired.append(pk)
    with transaction.atomic():
        for pk in [*stuck, *due, *expired]:
            queue_event_processing(pk)
    result = SweepResult(stuck_received=len(stuck), due_retries=len(due), expired_claims=len(expired))
    if result.total:
        logger.warning("inbox sweep re-queued %s events: %s", result.total, result)
    return result


def replay_events(events: QuerySet[InboundEvent]) -> list[int]:
    """Send finished events through processing again. Returns the replayed ids.

    Events in flight (received, processing, retrying) are left alone.
    """
    replayed: list[int] = []
    with transaction.atomic():
        for pk in events.filter(status__in=REPLAYABLE).values_list("pk", flat=True):
            if InboundEvent.objects.filter(pk=pk, status__in=REPLAYABLE).update(
                status=EventStatus.RECEIVED,
                attempts=0,
                last_error="",
                next_attempt_at=None,
                processed_at=None,
            ):
                replayed.append(pk)
                queue_event_processing(pk)
    logger.info("replayed %s events", len(replayed))
    return replayed
