"""Stacked-bar geometry: bars scale to the busiest bucket and stack bottom-up."""

from __future__ import annotations

from datetime import UTC, datetime

from payops.charts import stacked_bars


def test_bars_stack_bottom_up_and_scale_to_the_busiest_bucket() -> None:
    hour = datetime(2026, 11, 27, 9, tzinfo=UTC)
    chart = stacked_bars(
        [(hour, {"ok": 2, "bad": 2}), (hour, {"ok": 1}), (hour, {})], series=["ok", "bad"], width=300, height=100
    )
    assert chart.max_total == 4
    first, second, empty = chart.bars
    assert [(s.series, s.y, s.height) for s in first.segments] == [("ok", 50.0, 50.0), ("bad", 0.0, 50.0)]
    assert [(s.y, s.height) for s in second.segments] == [(75.0, 25.0)]
    assert empty.segments == [] and empty.total == 0
    assert first.label == "09:00"
    assert second.x == 101.0


def test_an_empty_day_draws_no_segments() -> None:
    chart = stacked_bars([], series=["ok"])
    assert chart.bars == [] and chart.max_total == 0
