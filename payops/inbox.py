"""Receiving webhooks: verify, then store once. Nothing else happens in the request."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from payops.card_numbers import redact_value
from payops.models import InboundEvent
from payops.trace import bound_trace, new_trace_id
from payops.webhook_verifiers import (
    VERIFIERS,
    InboundRequest,
    VerifiedEvent,
    WebhookRejected,
    storable_problem,
)

logger = logging.getLogger(__name__)


def receive_webhook(*, source: str, request: InboundRequest) -> tuple[InboundEvent, bool]:
    """Verify and store one delivery. Returns the event and whether it is new.

    Raises WebhookRejected (nothing stored) for an unknown source, an
    oversized body, a bad signature or a malformed event.
    """
    verifier = VERIFIERS.get(source)
    if verifier is None:
        raise WebhookRejected(f"unknown webhook source {source!r}", status=404)
    limit: int = settings.WEBHOOK_MAX_BODY_BYTES
    if len(request.body) > limit:
        raise WebhookRejected(f"body is larger than {limit} bytes", status=413)
    verified = verifier(request)
    _refuse_unstorable(verified)
    return store_event(source=source, verified=verified)


def _refuse_unstorable(verified: VerifiedEvent) -> None:
    """Whatever the source, what the database would refuse is refused here with a reason, not a 500."""
    problem = storable_problem(verified.payload)
    if problem:
        raise WebhookRejected(problem)
    for name, value, limit in (("event id", verified.event_id, 255), ("event type", verified.event_type, 128)):
        if not value or len(value) > limit or not value.isprintable():
            raise WebhookRejected(f"the {name} must be 1 to {limit} printable characters")


def store_event(*, source: str, verified: VerifiedEvent, processed_here: bool = False) -> tuple[InboundEvent, bool]:
    """Insert the event unless (source, event id) is already stored.

    The row is all the webhook request writes: the inbox dispatcher sends it
    to the workers (payops/inbox_dispatcher.py), in batches, outside the
    request. processed_here=True marks it as taken by a caller that
    processes it itself, so the dispatcher leaves it alone.
    """
    trace_id = new_trace_id()
    with bound_trace(trace_id):
        try:
            event = _insert(
                source=source,
                event_id=verified.event_id,
                event_type=verified.event_type,
                # Stored raw except for card numbers someone typed (a booking note): none is ever kept.
                payload=redact_value(verified.payload),
                trace_id=trace_id,
                queued_at=timezone.now() if processed_here else None,
            )
        except IntegrityError:
            # The unique constraint, not a read first, decides under concurrency.
            existing = InboundEvent.objects.get(source=source, event_id=verified.event_id)
            with bound_trace(existing.trace_id):
                logger.info(
                    "duplicate delivery of %s %s ignored", source, verified.event_id, extra={"event_pk": existing.pk}
                )
            return existing, False
        logger.info(
            "stored %s event %s (%s)",
            source,
            verified.event_id,
            verified.event_type,
            extra={"event_pk": event.pk},
        )
        return event, True


def _insert(**values: object) -> InboundEvent:
    # One INSERT in autocommit: no transaction to open and commit around it.
    # Inside a caller's transaction a savepoint lets a duplicate roll back alone.
    if connection.in_atomic_block:
        with transaction.atomic():
            return InboundEvent.objects.create(**values)
    return InboundEvent.objects.create(**values)
