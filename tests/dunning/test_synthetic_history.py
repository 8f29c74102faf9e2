"""The synthetic history: repeatable, believable, and written in bulk."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dunning.models import RecoveryCase, RecoveryStatus, RetryAttempt
from dunning.retry_features import RetryFeatures

END = datetime(2026, 11, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def _snapshot() -> list[tuple[object, ...]]:
    return list(
        RetryAttempt.objects.order_by("case__payment_intent_id", "number").values_list(
            "case__payment_intent_id", "number", "attempted_at", "succeeded", "decline_code"
        )
    )


def test_the_same_seed_gives_the_same_history_and_a_second_run_adds_nothing() -> None:
    from dunning.synthetic_history import generate_history

    assert generate_history(cases=120, seed=5, end=END) == 120
    first = _snapshot()
    assert generate_history(cases=120, seed=5, end=END) == 0
    RecoveryCase.objects.all().delete()
    generate_history(cases=120, seed=5, end=END)
    assert _snapshot() == first


def test_history_is_believable_by_class_and_reports_progress() -> None:
    from dunning.synthetic_history import generate_history

    seen: list[tuple[int, int]] = []
    generate_history(cases=400, seed=11, end=END, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (400, 400)
    retries = RetryAttempt.objects.filter(number__gte=1)
    rate = retries.filter(succeeded=True).count() / retries.count()
    assert 0.1 < rate < 0.5
    # Hard and customer-class declines are never retried.
    assert not retries.exclude(case__decline_class="soft").exists()
    assert RecoveryCase.objects.filter(status=RecoveryStatus.RECOVERED).exists()
    assert all(a.attempted_at <= END for a in RetryAttempt.objects.all())
    # Every retry records what a planner would have seen.
    sample = retries.first()
    assert sample is not None and RetryFeatures.from_dict(sample.features).decline_class == "soft"


def test_insufficient_funds_retries_succeed_more_often_around_paydays() -> None:
    from dunning.synthetic_history import generate_history

    generate_history(cases=1500, seed=2, end=END)
    nsf = [
        (RetryFeatures.from_dict(a.features), a.succeeded)
        for a in RetryAttempt.objects.filter(number__gte=1, case__last_decline_code="insufficient_funds")
    ]
    payday = [ok for f, ok in nsf if f.day_of_month in (1, 2, 15, 16) or f.day_of_month == f.days_in_month]
    other = [ok for f, ok in nsf if not (f.day_of_month in (1, 2, 15, 16) or f.day_of_month == f.days_in_month)]
    assert sum(payday) / len(payday) > sum(other) / len(other)
