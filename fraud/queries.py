"""What the fraud page shows: open holds with their reviews, recent scores, the score mix, and the model in use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone

from fraud.models import Assessment, Band, FraudHold, FraudModelVersion, HoldStatus
from fraud.synthetic_history import PREFIX
from payops.charts import StackedBars, stacked_bars
from payops.models import ReviewItem, ReviewKind, ReviewStatus

BANDS = [b.value for b in Band]


@dataclass(frozen=True)
class FraudPage:
    reviews: list[ReviewItem]
    assessments: list[Assessment]
    counts: dict[str, int]
    scores: StackedBars
    model: FraudModelVersion | None


def open_reviews() -> QuerySet[ReviewItem]:
    return (
        ReviewItem.objects.filter(kind=ReviewKind.FRAUD_HOLD, status=ReviewStatus.OPEN)
        .select_related("decision")
        .order_by("due_by", "-risk_score", "created_at")
    )


def score_histogram(since: datetime) -> StackedBars:
    """Bookings by score (ten bands of ten points), stacked by the band they fell in."""
    rows = (
        Assessment.objects.filter(scored_at__gte=since)
        .exclude(booking_code__startswith=PREFIX)
        .values_list("score", "band")
    )
    buckets: list[dict[str, int]] = [dict.fromkeys(BANDS, 0) for _ in range(10)]
    for score, band in rows:
        buckets[min(int(score // 10), 9)][band] += 1
    labels = [f"{10 * i}–{10 * i + 9}" for i in range(10)]
    return stacked_bars([(since, b) for b in buckets], series=BANDS, height=100, labels=labels)


def fraud_page(*, now: datetime | None = None) -> FraudPage:
    now = now or timezone.now()
    week = now - timedelta(days=7)
    real = Assessment.objects.exclude(booking_code__startswith=PREFIX)
    by_band: dict[str, Any] = dict(
        real.filter(scored_at__gte=week).values_list("band").annotate(n=Count("pk")).values_list("band", "n")
    )
    return FraudPage(
        reviews=list(open_reviews()[:100]),
        assessments=list(real.order_by("-scored_at")[:25]),
        counts={
            "held": FraudHold.objects.filter(status=HoldStatus.HELD).count(),
            "scored_7d": sum(by_band.values()),
            "high_7d": by_band.get(Band.HIGH, 0) + by_band.get(Band.BLOCK, 0),
            "cancelled_7d": FraudHold.objects.filter(status=HoldStatus.CANCELLED, resolved_at__gte=week).count(),
        },
        scores=score_histogram(now - timedelta(days=30)),
        model=FraudModelVersion.objects.filter(is_current=True).first(),
    )
