"""Processing stored events: claim, dispatch to a handler, retry, sweep, replay."""

from __future__ import annotations

import logging
import random
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from audit.operator_actions import record_operator_action
from payops.dispatch import queue_event_processing
from payops.event_handlers import handler_for
from payops.models import EventStatus, InboundEvent
from payops.requeue import due_again, max_countdown_seconds, not_before
from payops.trace import bound_trace

logger = logging.getLogger(__name__)

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
    one caller claim the event; the other returns None and does nothing. A
    retry is not claimed before its time, whatever message arrives early.
    """
    now = timezone.now()
    claimable = Q(status=EventStatus.RECEIVED) | (Q(status=EventStatus.RETRYING) & not_before(now=now))
    claimed = InboundEvent.objects.filter(claimable, pk=event_pk).update(
        status=EventStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        logger.info("event %s not claimable (done, in flight, not due or missing)", event_pk)
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


def _still_ours(event: InboundEvent) -> QuerySet[InboundEvent]:
    """The row, only while this worker's claim holds (the sweep may have handed it on)."""
    return InboundEvent.objects.filter(pk=event.pk, status=EventStatus.PROCESSING, claimed_at=event.claimed_at)


def _finish(event: InboundEvent, status: str) -> None:
    _still_ours(event).update(status=status, processed_at=timezone.now(), next_attempt_at=None)


def _record_failure(event: InboundEvent, exc: Exception) -> str:
    error = "".join(traceback.format_exception(exc))[-MAX_ERROR_CHARS:]
    attempts = event.attempts
    if attempts >= settings.INBOX_MAX_ATTEMPTS:
        _still_ours(event).update(status=EventStatus.FAILED, last_error=error, next_attempt_at=None)
        logger.error("event %s failed for good after %s attempts", event.pk, attempts, extra={"event_pk": event.pk})
        return EventStatus.FAILED
    delay = retry_delay_seconds(attempts)
    countdown = min(delay, max_countdown_seconds())
    now = timezone.now()
    with transaction.atomic():
        if _still_ours(event).update(
            status=EventStatus.RETRYING,
            last_error=error,
            next_attempt_at=now + timedelta(seconds=delay),
            queued_at=now + timedelta(seconds=countdown),
        ):
            # Longer delays than the countdown cap are sent by the sweep when due.
            queue_event_processing(event.pk, countdown=countdown)
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
    requeued: int
    expired_claims: int
    given_up: int

    @property
    def total(self) -> int:
        return self.requeued + self.expired_claims


def sweep_inbox(*, now: datetime | None = None) -> SweepResult:
    """Queue again what a lost message or a dead worker left behind, once per sweep."""
    now = now or timezone.now()
    lease_expired = Q(
        status=EventStatus.PROCESSING, claimed_at__lt=now - timedelta(seconds=settings.INBOX_PROCESSING_LEASE_SECONDS)
    )
    expired = given_up = 0
    for pk in InboundEvent.objects.filter(lease_expired).values_list("pk", flat=True):
        # Conditional, so a worker that finishes at this moment keeps its result.
        row = InboundEvent.objects.filter(lease_expired, pk=pk)
        if row.filter(attempts__gte=settings.INBOX_MAX_ATTEMPTS).update(
            status=EventStatus.FAILED, last_error="the worker died or hung on every attempt", next_attempt_at=None
        ):
            given_up += 1
        elif row.update(status=EventStatus.RETRYING, next_attempt_at=now, queued_at=now):
            expired += 1
            with transaction.atomic():
                queue_event_processing(pk)
    waiting = Q(status__in=[EventStatus.RECEIVED, EventStatus.RETRYING]) & due_again(
        now=now, created_field="received_at"
    )
    requeued = 0
    with transaction.atomic():
        for pk in InboundEvent.objects.filter(waiting).values_list("pk", flat=True):
            # Marking queued_at first means the next sweep leaves it alone.
            if InboundEvent.objects.filter(waiting, pk=pk).update(queued_at=now):
                queue_event_processing(pk)
                requeued += 1
    result = SweepResult(requeued=requeued, expired_claims=expired, given_up=given_up)
    if result.total or given_up:
        logger.warning("inbox sweep: %s", result)
    return result


def replay_events(events: QuerySet[InboundEvent], *, actor: User | None, via: str, enqueue: bool = True) -> list[int]:
    """Send finished events through processing again, and record who did. Returns the replayed ids.

    Events in flight (received, processing, retrying) are left alone. With
    enqueue=False the caller processes them itself (no message is sent).
    """
    replayed: list[int] = []
    now = timezone.now()
    with transaction.atomic():
        for pk in events.filter(status__in=REPLAYABLE).values_list("pk", flat=True):
            if InboundEvent.objects.filter(pk=pk, status__in=REPLAYABLE).update(
                status=EventStatus.RECEIVED,
                attempts=0,
                last_error="",
                next_attempt_at=None,
                processed_at=None,
                queued_at=now,
            ):
                replayed.append(pk)
                if enqueue:
                    queue_event_processing(pk)
        if replayed:
            record_operator_action(
                action="replay_events",
                actor=actor,
                reason=f"{len(replayed)} stored events sent through processing again via {via}",
                params={"event_pks": replayed[:1000], "count": len(replayed), "via": via},
            )
    logger.info("replayed %s events via %s", len(replayed), via)
    return replayed
