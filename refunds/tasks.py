"""Celery tasks of the refunds app: work out a cancelled booking's refund (it asks Stripe, so not in a receiver)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings

from payops.stripe_errors import StripeGatewayError
from refunds.cancellations import propose_for_cancellation

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, name="refunds.tasks.refund_cancellation", max_retries=8, time_limit=settings.TASK_TIME_LIMIT_SECONDS
)
def refund_cancellation(self: Any, booking_code: str, cancelled_at: str | None = None) -> str:
    try:
        row = propose_for_cancellation(
            booking_code, cancelled_at=datetime.fromisoformat(cancelled_at) if cancelled_at else None
        )
    except StripeGatewayError as exc:
        if not exc.retryable:
            raise
        # Stripe is down or slow: try again, 30 s, 1 min, 2 min … (the sweep command is the backstop).
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
    return str(row) if row else "nothing to do"
