"""Beat jobs of fraud scoring."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from fraud.deadlines import settle_unanswered


@shared_task(time_limit=settings.TASK_TIME_LIMIT_SECONDS)
def settle_unanswered_reviews() -> int:
    """Captures whose window closed clean, holds about to lapse (safe to run twice: one answer per item)."""
    return settle_unanswered()
