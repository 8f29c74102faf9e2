"""Receiving webhooks: verify, store once, queue processing."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from payops.dispatch import queue_event_processing
from payops.models import InboundEvent
from payops.trace import bound_trace, new_trace_id
from payops.webhook_verifiers import VERIFIERS, InboundRequest, VerifiedEvent, WebhookRejected

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
    return store_event(source=source, verified=verified)


def store_event(*, source: str, verified: VerifiedEvent, enqueue: bool = True) -> tuple[InboundEvent, bool]:
    """Insert the event unless (source, event id) is already stored.

    With enqueue=False no message is sent: the caller processes it itself.
    """
    trace_id = new_trace_id()
    with bound_trace(trace_id):
        try:
            # The savepoint lets a duplicate's IntegrityError roll back alone;
            # the unique constraint, not a read first, decides under concurrency.
            with transaction.atomic():
                event = InboundEvent.objects.create(
                    source=source,
                    event_id=verified.event_id,
                    event_type=verified.event_type,
                    payload=verified.payload,
                    trace_id=trace_id,
                    queued_at=timezone.now(),
                )
                if enqueue:
                    queue_event_processing(event.pk)
        except IntegrityError:
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
