"""Sending background work to the broker: after commit, or in batches for the inbox dispatcher.

The one place domain code reaches Celery. A failed send is logged, not
raised: the row is already stored and the beat sweeps pick it up.
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def queue_event_processing(event_pk: int, *, countdown: float = 0) -> None:
    def send() -> None:
        from payops.tasks import process_inbound_event

        try:
            process_inbound_event.apply_async((event_pk,), countdown=countdown)
        except OperationalError:
            # The event is stored and marked queued: the sweep sends it again.
            logger.warning("broker unavailable; event %s left for the sweep", event_pk, exc_info=True)

    transaction.on_commit(send)


def queue_decision_execution(decision_pk: uuid.UUID, *, countdown: float = 0) -> None:
    def send() -> None:
        from payops.tasks import execute_decision

        try:
            execute_decision.apply_async((str(decision_pk),), countdown=countdown)
        except OperationalError:
            logger.warning("broker unavailable; decision %s left for the sweep", decision_pk, exc_info=True)

    transaction.on_commit(send)


def send_event_batches(event_pks: list[int], *, per_message: int) -> bool:
    """Publish events `per_message` to a message over one broker connection. False if the broker is down."""
    from payops.celery import app
    from payops.tasks import process_inbound_events

    try:
        with app.producer_or_acquire() as producer:
            for start in range(0, len(event_pks), per_message):
                process_inbound_events.apply_async((event_pks[start : start + per_message],), producer=producer)
    except OperationalError:
        logger.warning("broker unavailable; %s events left for the sweep", len(event_pks), exc_info=True)
        return False
    return True
