"""Checkfront notes written at most once each: Checkfront has no idempotency key, so we keep one here."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from bookings.checkfront_client import CheckfrontClient, CheckfrontError, CheckfrontUnavailable
from bookings.models import BookingNote
from payops.executors import ExecutionError

logger = logging.getLogger(__name__)


def write_note_once(*, client: CheckfrontClient, booking_code: str, key: str, body: str) -> bool:
    """Add `body` to the booking unless the note with this key was written. True if written now.

    The note is recorded before it is sent and marked after. A row left
    unmarked means an earlier attempt may have reached Checkfront, so its
    notes are searched for the same text first (a duplicate note confuses
    staff more than a late one).
    """
    note, created = BookingNote.objects.get_or_create(key=key, defaults={"booking_code": booking_code, "body": body})
    if note.written_at is not None:
        logger.info("note %s on %s already written", key, booking_code)
        return False
    if not created and _already_in_checkfront(client, booking_code, note):
        logger.warning("note %s on %s was written by an earlier attempt", key, booking_code)
        _mark_written(note)
        return False
    client.add_note(booking_code, note.body)
    _mark_written(note)
    return True


def _already_in_checkfront(client: CheckfrontClient, code: str, note: BookingNote) -> bool:
    since = note.created_at.date().isoformat()
    return any(str(row.get("booking_id")) == code and row.get("body") == note.body for row in client.notes(date=since))


def _mark_written(note: BookingNote) -> None:
    with transaction.atomic():
        BookingNote.objects.filter(pk=note.pk).update(written_at=timezone.now())


def note_for_decision(*, booking_code: str, key: str, body: str, after: str = "") -> bool:
    """write_note_once for an executor: Checkfront down is worth a retry, a refusal is not.

    `after` says what the decision already did (a refund), so a failed note does not hide it.
    """
    done = f"{after}; " if after else ""
    try:
        return write_note_once(client=CheckfrontClient(), booking_code=booking_code, key=key, body=body)
    except CheckfrontUnavailable as exc:
        raise ExecutionError(f"{done}the note waits for Checkfront: {exc}", retryable=True) from exc
    except CheckfrontError as exc:
        raise ExecutionError(f"{done}Checkfront refused the note: {exc}") from exc
