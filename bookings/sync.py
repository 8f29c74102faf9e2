"""Incremental sync of the booking mirror from Checkfront's booking index.

A run pages through `booking/index` filtered by `last_modified` (from the
stored cursor minus an overlap window), upserts each page in bulk, then reads
the detail of every new or changed booking. The cursor only moves when a run
finishes, so a run that dies is simply redone by the next one; every write is
an idempotent upsert, so overlap and reruns change nothing twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import reset_queries, transaction
from django.utils import timezone

from bookings.booking_refresh import read_booking
from bookings.checkfront_client import (
    CheckfrontClient,
    CheckfrontConfig,
    CheckfrontError,
    CheckfrontNotFound,
    Page,
)
from bookings.checkfront_payloads import BookingData, PayloadError, booking_from_index_row
from bookings.mirror import sync_items, upsert_booking_details, upsert_index_rows
from bookings.models import SyncCursor
from payops.money import MoneyError

logger = logging.getLogger(__name__)

CURSOR_NAME = "bookings"
# A run that has held the cursor this long is taken to have died.
STALE_RUN_AFTER = timedelta(hours=2)


class SyncAlreadyRunning(Exception):
    """Another sync holds the cursor."""


@dataclass
class SyncSummary:
    since: datetime | None
    started_at: datetime
    pages: int = 0
    items_changed: int = 0
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    details: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.seen} bookings seen on {self.pages} pages: {self.new} new, {self.changed} changed, "
            f"{self.unchanged} unchanged; {self.details} details read, {self.failed} failed"
        )


Progress = Callable[[SyncSummary, int], None]


def sync_bookings(
    *,
    full: bool = False,
    since: datetime | None = None,
    details: bool = True,
    page_size: int = 250,
    detail_workers: int | None = None,
    client: CheckfrontClient | None = None,
    progress: Progress | None = None,
) -> SyncSummary:
    """Run one sync. Raises SyncAlreadyRunning if another holds the cursor."""
    started_at = timezone.now()
    cursor = _claim_cursor(started_at)
    if full:
        since = None
    elif since is None and cursor.cursor_at is not None:
        since = cursor.cursor_at - timedelta(seconds=settings.CHECKFRONT_SYNC_OVERLAP_SECONDS)
    summary = SyncSummary(since=since, started_at=started_at)
    client = client or CheckfrontClient()
    completed = False
    try:
        # The catalogue first, so booking lines can point at their items.
        summary.items_changed = sync_items(client.items())
        filters = {"last_modified": f">{int(since.timestamp())}"} if since else {}
        for page in prefetched(client.booking_pages(limit=page_size, **filters)):
            # With DEBUG on Django keeps every query's SQL; a long sync must not.
            reset_queries()
            summary.pages += 1
            rows = _index_rows(page.rows, page.currency, summary)
            batch = upsert_index_rows(rows, modified_since_last_run=since is not None, create_new=not details)
            summary.seen += len(page.rows)
            summary.new += batch.new
            summary.changed += batch.changed
            summary.unchanged += batch.unchanged
            if details and batch.needs_detail:
                _read_details(batch.needs_detail, client.config, summary, detail_workers)
            if progress:
                progress(summary, page.total_records)
        completed = summary.failed == 0
    finally:
        _release_cursor(cursor, summary, advance=completed)
    logger.info("checkfront sync: %s", summary.line())
    return summary


def prefetched(pages: Iterator[Page], depth: int = 2) -> Iterator[Page]:
    """Fetch the next pages in a thread while this one is written (network and database overlap).

    Errors from the fetching thread are raised here, in order.
    """
    slots: queue.Queue[Page | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        slots.put(page, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it  # noqa: BLE001
            slots.put(exc)

    thread = threading.Thread(target=fetch, name="checkfront-index-prefetch", daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _claim_cursor(now: datetime) -> SyncCursor:
    SyncCursor.objects.get_or_create(name=CURSOR_NAME)
    # Conditional update: exactly one run holds the cursor at a time.
    free = SyncCursor.objects.filter(name=CURSOR_NAME, running_since__isnull=True)
    stale = SyncCursor.objects.filter(name=CURSOR_NAME, running_since__lt=now - STALE_RUN_AFTER)
    if not (free.update(running_since=now) or stale.update(running_since=now)):
        raise SyncAlreadyRunning("another Checkfront sync is running")
    return SyncCursor.objects.get(name=CURSOR_NAME)


def _release_cursor(cursor: SyncCursor, summary: SyncSummary, *, advance: bool) -> None:
    values: dict[str, object] = {"running_since": None, "last_summary": _jsonable(summary)}
    if advance:
        # The next run starts from when this one started (minus the overlap):
        # anything changed while it paged is picked up then.
        values.update(cursor_at=summary.started_at, last_completed_at=timezone.now())
    with transaction.atomic():
        SyncCursor.objects.filter(pk=cursor.pk).update(**values)


def _jsonable(summary: SyncSummary) -> dict[str, object]:
    data = asdict(summary)
    data["since"] = summary.since.isoformat() if summary.since else None
    data["started_at"] = summary.started_at.isoformat()
    data["errors"] = summary.errors[:20]
    return data


def _index_rows(rows: list[dict[str, object]], currency: str, summary: SyncSummary) -> list[BookingData]:
    parsed = []
    for row in rows:
        try:
            parsed.append(booking_from_index_row(dict(row), account_currency=currency or "usd"))
        except (PayloadError, MoneyError, ValueError) as exc:
            summary.failed += 1
            summary.errors.append(f"index row {row.get('code') or row.get('booking_id')}: {exc}")
    return parsed


def _read_details(codes: list[str], config: CheckfrontConfig, summary: SyncSummary, workers: int | None) -> None:
    """Fetch a page's details concurrently (network-bound), then write them in one batch (database-bound)."""
    workers = workers or settings.CHECKFRONT_DETAIL_WORKERS
    details: list[BookingData] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for code, outcome in pool.map(_fetch_detail, [(code, config) for code in codes]):
            if isinstance(outcome, BookingData):
                details.append(outcome)
            elif outcome is not None:
                summary.failed += 1
                summary.errors.append(f"{code}: {outcome}")
    if details:
        upsert_booking_details(details)
        summary.details += len(details)


_local = threading.local()


def _fetch_detail(args: tuple[str, CheckfrontConfig]) -> tuple[str, BookingData | str | None]:
    """Runs in a pool thread: one HTTP session per thread, no database access."""
    code, config = args
    client: CheckfrontClient | None = getattr(_local, "client", None)
    if client is None or client.config != config:
        client = _local.client = CheckfrontClient(config)
    try:
        return code, read_booking(client, code)
    except CheckfrontNotFound:
        return code, None
    except (CheckfrontError, PayloadError, MoneyError, ValueError) as exc:
        return code, str(exc)
