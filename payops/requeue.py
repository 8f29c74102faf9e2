"""When a row waiting for a worker should be sent to the queue again.

Inbound events and pending decisions both carry `queued_at` (when the last
message for them was due to run) and `next_attempt_at` (not before this).
A message is sent again when the last one must have been lost, or when a
retry falls due that no message was planned for (delays longer than the
broker's visibility timeout are left to the sweep, not to a countdown).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q


def max_countdown_seconds() -> float:
    """Countdowns stay well inside the broker's visibility timeout, so a waiting message is never redelivered."""
    return float(settings.QUEUE_MAX_COUNTDOWN_SECONDS)


def countdown_until(at: datetime | None, *, now: datetime) -> float:
    """Seconds a message waits for `at` (0 when due); a longer wait than the broker may hold is left to the sweep."""
    wait = max(0.0, (at - now).total_seconds()) if at is not None else 0.0
    return min(wait, max_countdown_seconds())


def due_again(*, now: datetime, created_field: str) -> Q:
    """Rows to send again. A row never sent at all is left to its dispatcher until it is stuck too."""
    stuck = now - timedelta(seconds=settings.INBOX_STUCK_AFTER_SECONDS)
    lost_or_never_sent = Q(queued_at__lt=stuck) | Q(queued_at__isnull=True, **{f"{created_field}__lt": stuck})
    unplanned_retry = Q(next_attempt_at__lte=now, queued_at__lt=F("next_attempt_at"))
    return (lost_or_never_sent & not_before(now=now)) | unplanned_retry


def not_before(*, now: datetime) -> Q:
    """A row may be claimed only once its retry time has come."""
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
