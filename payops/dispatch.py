"""Starting background work once the current transaction commits.

The one place domain code reaches Celery. A failed enqueue is logged, not
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
            # Answer 2xx anyway: the event is stored and the sweep re-queues it.
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
