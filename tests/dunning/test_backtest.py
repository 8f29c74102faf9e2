"""The backtest: outcomes read from the record, both policies side by side."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dunning.backtest import load_cases, outcome_at
from dunning.models import RecoveryCase, RetryAttempt
from dunning.synthetic_history import generate_history

END = datetime(2026, 11, 1, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def _table(text: str) -> dict[str, tuple[str, str]]:
    """The side-by-side rows: label, planner column, fixed-schedule column (split on runs of 2+ spaces)."""
    rows = {}
    for line in text.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) == 3:
            rows[parts[0]] = (parts[1], parts[2])
    return rows


def test_a_retry_outcome_comes_from_the_record() -> None:
    generate_history(cases=200, seed=4, end=END)
    replay = next(r for r in load_cases(since=None, until=None) if r.recorded_success and len(r.attempts) > 2)
    success = replay.recorded_success
    assert success is not None
    assert outcome_at(replay, success.attempted_at + timedelta(days=3)) is True
    failed = replay.attempts[1]
    assert outcome_at(replay, failed.attempted_at + timedelta(hours=1)) is False
    assert outcome_at(replay, replay.first.attempted_at - timedelta(days=5)) is None


def test_backtest_prints_both_policies_side_by_side() -> None:
    generate_history(cases=300, seed=8, end=END)
    out = StringIO()
    call_command("backtest_dunning", "--baseline-days", "1,3,5,7", stdout=out)
    rows = _table(out.getvalue())
    assert rows["cases"] == ("300", "300")
    for label in ["recovery rate", "attempts per recovery", "rule violations", "card-update requests", "escalations"]:
        assert label in rows
    assert any(label.startswith("recovered eur") for label in rows)
    assert rows["rule violations"][0] == "0"
    assert int(rows["rule violations"][1]) > 0
    assert int(rows["escalations"][1]) == 0
    assert rows["recovery rate"][0].endswith("%")
    assert "fixed 1,3,5,7 d" in out.getvalue() and "planner (prior-1)" in out.getvalue()
    assert "300/300 cases" in out.getvalue()


def test_currency_and_dates_narrow_the_replay() -> None:
    generate_history(cases=300, seed=8, end=END)
    out = StringIO()
    since = END - timedelta(days=60)
    call_command("backtest_dunning", "--currency", "usd", "--since", since.isoformat(), stdout=out)
    expected = RecoveryCase.objects.filter(currency="usd", first_failed_at__gte=since).count()
    assert _table(out.getvalue())["cases"] == (str(expected), str(expected))


def test_nothing_to_replay_is_an_error() -> None:
    with pytest.raises(CommandError, match="nothing to replay"):
        call_command("backtest_dunning")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline-days", "1,x"], "whole days"),
        (["--baseline-days", "3,1"], "rising positive"),
        (["--currency", "euro"], "three-letter"),
        (["--since", "2026-10-01", "--until", "2026-09-01"], "before --until"),
    ],
)
def test_bad_options_are_command_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("backtest_dunning", *args)


def test_a_case_without_attempts_is_skipped_not_fatal() -> None:
    generate_history(cases=30, seed=9, end=END)
    RetryAttempt.objects.filter(case=RecoveryCase.objects.first()).delete()
    assert len(load_cases(since=None, until=None)) == 29
