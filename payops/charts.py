"""Geometry for the console's server-rendered SVG charts (no chart library, no CDN)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Segment:
    series: str
    y: float
    height: float
    count: int


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    total: int
    segments: list[Segment]


@dataclass(frozen=True)
class StackedBars:
    width: int
    height: int
    max_total: int
    bars: list[Bar]
    series: list[str]


def stacked_bars(
    buckets: Sequence[tuple[datetime, Mapping[str, int]]],
    *,
    series: Sequence[str],
    width: int = 720,
    height: int = 120,
    gap: float = 2,
    labels: Sequence[str] | None = None,
) -> StackedBars:
    """One bar per bucket, its series stacked bottom-up, scaled to the tallest bar."""
    max_total = max((sum(counts.values()) for _, counts in buckets), default=0)
    slot = width / max(len(buckets), 1)
    scale = height / max_total if max_total else 0
    bars: list[Bar] = []
    for index, (start, counts) in enumerate(buckets):
        y = float(height)
        segments: list[Segment] = []
        for name in series:
            count = counts.get(name, 0)
            if count:
                h = count * scale
                y -= h
                segments.append(Segment(series=name, y=round(y, 2), height=round(h, 2), count=count))
        bars.append(
            Bar(
                label=labels[index] if labels is not None else f"{start:%H}:00",
                x=round(index * slot + gap / 2, 2),
                width=round(slot - gap, 2),
                total=sum(counts.values()),
                segments=segments,
            )
        )
    return StackedBars(width=width, height=height, max_total=max_total, bars=bars, series=list(series))


def value_bars(
    points: Sequence[tuple[str, int]],
    *,
    series: str,
    width: int = 720,
    height: int = 100,
    gap: float = 2,
) -> StackedBars:
    """One bar per labelled value of a single series (an amount per day), scaled to the largest.

    Each bar has one segment (none when its value is 0), so templates draw it as they draw stacked bars.
    """
    max_total = max((value for _, value in points), default=0)
    slot = width / max(len(points), 1)
    scale = height / max_total if max_total else 0
    bars: list[Bar] = []
    for index, (label, value) in enumerate(points):
        h = value * scale
        segments = [Segment(series=series, y=round(height - h, 2), height=round(h, 2), count=value)] if value else []
        bars.append(
            Bar(
                label=label,
                x=round(index * slot + gap / 2, 2),
                width=round(slot - gap, 2),
                total=value,
                segments=segments,
            )
        )
    return StackedBars(width=width, height=height, max_total=max_total, bars=bars, series=[series])


def share_bars(
    rows: Sequence[tuple[str, Mapping[str, int]]],
    *,
    series: Sequence[str],
    width: int = 720,
    height: int = 120,
    gap: float = 8,
) -> StackedBars:
    """One full-height bar per labelled row, its series stacked bottom-up as shares of the row's total.

    Rows of very different sizes compare as proportions (100 % bars); a row with
    nothing in it has no segments. Keys not in `series` are left out of the
    shares; `max_total` is the largest row's count.
    """
    max_total = max((sum(counts.get(name, 0) for name in series) for _, counts in rows), default=0)
    slot = width / max(len(rows), 1)
    bars: list[Bar] = []
    for index, (label, counts) in enumerate(rows):
        total = sum(counts.get(name, 0) for name in series)
        y = float(height)
        segments: list[Segment] = []
        for name in series:
            count = counts.get(name, 0)
            if count:
                h = height * count / total
                y -= h
                segments.append(Segment(series=name, y=round(y, 2), height=round(h, 2), count=count))
        bars.append(
            Bar(
                label=label,
                x=round(index * slot + gap / 2, 2),
                width=round(slot - gap, 2),
                total=total,
                segments=segments,
            )
        )
    return StackedBars(width=width, height=height, max_total=max_total, bars=bars, series=list(series))
