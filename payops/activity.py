"""What the console home shows: recent events, decisions and queue counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from audit.models import Decision
from payops.charts import StackedBars, stacked_bars
from payops.models import EventStatus, InboundEvent, ReviewItem, ReviewStatus


@dataclass(frozen=True)
class Activity:
    events: list[InboundEvent]
    decisions: list[Decision]
    event_counts: dict[str, int]
    open_reviews: int
    failed_events: int
    hourly: StackedBars


def recent_activity(*, limit: int = 25, window_hours: int = 24) -> Activity:
    since = timezone.now() - timedelta(hours=window_hours)
    counts = dict(
        InboundEvent.objects.filter(received_at__gte=since)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("status", "n")
    )
    return Activity(
        events=list(
            InboundEvent.objects.only(
                "source", "event_id", "event_type", "status", "attempts", "received_at", "trace_id"
            ).order_by("-received_at")[:limit]
        ),
        decisions=list(Decision.objects.select_related("actor").order_by("-created_at")[:limit]),
        event_counts={status: counts.get(status, 0) for status in EventStatus.values},
        open_reviews=ReviewItem.objects.filter(status=ReviewStatus.OPEN).count(),
        failed_events=InboundEvent.objects.filter(status=EventStatus.FAILED).count(),
        hourly=stacked_bars(hourly_event_counts(hours=window_hours), series=EventStatus.values),
    )


def hourly_event_counts(*, hours: int = 24) -> list[tuple[datetime, dict[str, int]]]:
    """Events received per hour and status, oldest hour first, empty hours included."""
    current_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - timedelta(hours=hours - 1)
    rows = (
        InboundEvent.objects.filter(received_at__gte=first_hour)
        .annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .values_list("hour", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    buckets: dict[datetime, dict[str, int]] = {first_hour + timedelta(hours=n): {} for n in range(hours)}
    for hour, status, n in rows:
        if hour in buckets:
            buckets[hour][status] = n
    # Labelled in the console's display time zone; counted in UTC hours.
    return [(timezone.localtime(hour), counts) for hour, counts in buckets.items()]
