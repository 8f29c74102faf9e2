"""Checkfront notes written at most once each: Checkfront has no idempotency key, so we keep one here."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from bookings.checkfront_client import CheckfrontClient
from payments.models import CollectionNote, PaymentCollection

logger = logging.getLogger(__name__)


def write_note_once(*, client: CheckfrontClient, collection: PaymentCollection, key: str, body: str) -> bool:
    """Add `body` to the collection's booking unless the note with this key was written. True if written now.

    The note is recorded before it is sent and marked after. A row left
    unmarked means an earlier attempt may have reached Checkfront, so its
    notes are searched for the same text first (a duplicate note confuses
    staff more than a late one).
    """
    note, created = CollectionNote.objects.get_or_create(key=key, defaults={"collection": collection, "body": body})
    if note.written_at is not None:
        logger.info("note %s on %s already written", key, collection.booking_code)
        return False
    if not created and _already_in_checkfront(client, collection.booking_code, note):
        logger.warning("note %s on %s was written by an earlier attempt", key, collection.booking_code)
        _mark_written(note)
        return False
    client.add_note(collection.booking_code, note.body)
    _mark_written(note)
    return True


def _already_in_checkfront(client: CheckfrontClient, code: str, note: CollectionNote) -> bool:
    since = note.created_at.date().isoformat()
    return any(str(row.get("booking_id")) == code and row.get("body") == note.body for row in client.notes(date=since))


def _mark_written(note: CollectionNote) -> None:
    with transaction.atomic():
        CollectionNote.objects.filter(pk=note.pk).update(written_at=timezone.now())
