"""What the console home shows: recent events, decisions and queue counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from audit.models import Decision
from payops.models import EventStatus, InboundEvent, ReviewItem, ReviewStatus


@dataclass(frozen=True)
class Activity:
    events: list[InboundEvent]
    decisions: list[Decision]
    event_counts: dict[str, int]
    open_reviews: int
    failed_events: int


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
    )
