"""Celery tasks for the Checkfront mirror."""

from __future__ import annotations

import logging

from celery import shared_task

from bookings.sync import SyncAlreadyRunning, sync_bookings

logger = logging.getLogger(__name__)


@shared_task(name="bookings.tasks.sync_checkfront")
def sync_checkfront() -> str:
    try:
        return sync_bookings().line()
    except SyncAlreadyRunning:
        # The previous beat tick's run is still going; it will cover this one.
        logger.info("Checkfront sync already running; skipping this tick")
        return "skipped"
