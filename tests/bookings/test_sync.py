"""Incremental sync from the simulator: complete, idempotent, resumable, one run at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bookings import signals
from bookings.checkfront_client import CheckfrontClient
from bookings.checkfront_sim import CheckfrontSimulator
from bookings.models import Booking, BookingItem, Customer, Item, SyncCursor
from bookings.sync import SyncAlreadyRunning, sync_bookings

pytestmark = pytest.mark.django_db


def test_a_full_sync_mirrors_every_booking_with_its_detail(
    checkfront: CheckfrontSimulator, cf_client: CheckfrontClient
) -> None:
    summary = sync_bookings(client=cf_client, page_size=15)
    assert (summary.pages, summary.seen, summary.new, summary.details, summary.failed) == (3, 40, 40, 40, 0)
    assert Booking.objects.count() == 40
    assert not Booking.objects.filter(detail_synced_at__isnull=True).exists()
    assert BookingItem.objects.exists() and Customer.objects.exists()
    assert summary.items_changed == Item.objects.count() > 0
    assert not BookingItem.objects.filter(item__isnull=True).exists()
    sample = Booking.objects.order_by("checkfront_id").first()
    assert sample is not None
    remote = checkfront.booking(sample.code)
    assert sample.status == remote["status_id"]
    assert sample.currency == remote["currency_id"].lower()
    assert sample.start_at is not None and sample.start_at.timestamp() == int(remote["start_date"])
    cursor = SyncCursor.objects.get(name="bookings")
    assert cursor.cursor_at == summary.started_at and cursor.running_since is None


def test_a_second_run_reads_nothing_new_and_changes_nothing(cf_client: CheckfrontClient) -> None:
    sync_bookings(client=cf_client)
    history = Booking.history.count()
    again = sync_bookings(client=cf_client)
    assert (again.new, again.changed, again.details) == (0, 0, 0)
    assert Booking.history.count() == history


def test_changes_since_the_last_run_are_picked_up_and_announced_once(
    checkfront: CheckfrontSimulator, cf_client: CheckfrontClient
) -> None:
    sync_bookings(client=cf_client)
    heard: list[str] = []

    def on_cancel(sender: Any, booking: Booking, **kwargs: Any) -> None:
        heard.append(booking.code)

    signals.booking_cancelled.connect(on_cancel)
    try:
        target = Booking.objects.filter(status__in=["PEND", "HOLD", "PART", "PAID"]).first()
        assert target is not None
        checkfront.modify_booking(target.code, status_id="STOP")
        summary = sync_bookings(client=cf_client)
        sync_bookings(client=cf_client)
    finally:
        signals.booking_cancelled.disconnect(on_cancel)
    assert summary.since is not None
    assert summary.changed == 1 and summary.details == 1
    target.refresh_from_db()
    assert target.status == "STOP"
    assert heard == [target.code]


def test_a_run_that_fails_midway_leaves_the_cursor_and_the_next_run_finishes(
    checkfront: CheckfrontSimulator, cf_client: CheckfrontClient
) -> None:
    from bookings.checkfront_client import CheckfrontUnavailable

    def outage_after_first_page(summary: Any, total: int) -> None:
        checkfront.set_faults({"status": 500, "share": 1.0})

    with pytest.raises(CheckfrontUnavailable):
        sync_bookings(client=cf_client, page_size=5, progress=outage_after_first_page)
    # Page one is in (and perhaps the pages fetched ahead of the outage); not all 40.
    done = Booking.objects.count()
    assert 5 <= done < 40
    cursor = SyncCursor.objects.get(name="bookings")
    assert cursor.cursor_at is None and cursor.running_since is None
    assert "seen" in cursor.last_summary
    checkfront.clear_faults()
    finished = sync_bookings(client=cf_client, page_size=5)
    assert (finished.new, finished.unchanged, finished.failed) == (40 - done, done, 0)
    assert Booking.objects.filter(detail_synced_at__isnull=False).count() == 40
    assert SyncCursor.objects.get(name="bookings").cursor_at == finished.started_at


def test_a_booking_whose_detail_cannot_be_read_is_counted_and_retried_next_run(
    checkfront: CheckfrontSimulator, cf_client: CheckfrontClient
) -> None:
    sync_bookings(client=cf_client)
    target = Booking.objects.order_by("checkfront_id").first()
    assert target is not None
    checkfront.modify_booking(target.code, fields={"party_size": "7"})
    checkfront.set_faults({"status": 500, "share": 1.0, "path_prefix": f"/api/3.0/booking/{target.code}"})
    summary = sync_bookings(client=cf_client)
    assert summary.failed == 1 and target.code in summary.errors[0]
    checkfront.clear_faults()
    assert sync_bookings(client=cf_client).details >= 1
    target.refresh_from_db()
    assert target.form_fields.get("party_size") == "7"


def test_only_one_run_holds_the_cursor(cf_client: CheckfrontClient) -> None:
    SyncCursor.objects.create(name="bookings", running_since=timezone.now())
    with pytest.raises(SyncAlreadyRunning):
        sync_bookings(client=cf_client)
    # A run that died long ago does not block forever.
    SyncCursor.objects.filter(name="bookings").update(running_since=timezone.now() - timedelta(hours=3))
    assert sync_bookings(client=cf_client).seen == 40


def test_the_overlap_window_reaches_back_before_the_last_start(
    settings: Any, checkfront: CheckfrontSimulator, cf_client: CheckfrontClient
) -> None:
    settings.CHECKFRONT_SYNC_OVERLAP_SECONDS = 300
    first = sync_bookings(client=cf_client)
    second = sync_bookings(client=cf_client)
    assert second.since == first.started_at - timedelta(seconds=300)


def test_the_command_shows_progress_and_a_summary(checkfront: CheckfrontSimulator, capsys: Any) -> None:
    call_command("sync_checkfront", "--page-size", "20")
    out = capsys.readouterr().out
    assert "40/40 bookings" in out
    assert "40 bookings seen on 2 pages: 40 new" in out


@pytest.mark.parametrize(
    "args", [["--page-size", "0"], ["--detail-workers", "99"], ["--full", "--since", "2026-01-01"], ["--since", "x"]]
)
def test_the_command_refuses_bad_arguments(checkfront: CheckfrontSimulator, args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("sync_checkfront", *args)


def test_the_command_fails_loudly_when_checkfront_is_down(checkfront: CheckfrontSimulator, settings: Any) -> None:
    settings.CHECKFRONT_MAX_ATTEMPTS = 1
    checkfront.set_faults({"status": 503, "share": 1.0})
    with pytest.raises(CommandError, match="cursor did not move"):
        call_command("sync_checkfront")


def test_prefetched_pages_keep_their_order_and_raise_the_fetchers_error() -> None:
    from collections.abc import Iterator

    from bookings.sync import prefetched

    def pages() -> Iterator[Any]:
        yield from (1, 2, 3)
        raise RuntimeError("page 4 failed")

    seen = []
    with pytest.raises(RuntimeError, match="page 4 failed"):
        for page in prefetched(pages()):
            seen.append(page)
    assert seen == [1, 2, 3]
    # A consumer that stops early leaves no fetcher behind.
    assert next(iter(prefetched(iter(range(100))))) == 0
