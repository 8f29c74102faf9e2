"""Beat jobs of failed-payment recovery."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from dunning.recovery import end_expired_holds


@shared_task(time_limit=settings.TASK_TIME_LIMIT_SECONDS)
def end_holds() -> int:
    """Propose cancelling bookings whose hold ended unpaid (safe to run twice: one proposal per case)."""
    return end_expired_holds()
