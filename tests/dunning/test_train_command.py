"""manage.py train_retry_model."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dunning.models import RetryModelVersion
from dunning.synthetic_history import generate_history
from tests.dunning.core_fixtures import store_weak_current_model

pytestmark = pytest.mark.django_db
END = datetime(2026, 11, 1, tzinfo=UTC)


def test_too_little_history_keeps_the_prior() -> None:
    generate_history(cases=20, seed=1, end=END)
    with pytest.raises(CommandError, match=r"not enough history \(\d+ rows, need 200\); the prior stays in use"):
        call_command("train_retry_model")
    assert not RetryModelVersion.objects.exists()


def test_force_promote_is_refused() -> None:
    with pytest.raises(CommandError, match="not allowed"):
        call_command("train_retry_model", "--force-promote")


def test_enough_history_trains_prints_both_models_and_stores_the_promoted_version() -> None:
    generate_history(cases=400, seed=21, end=END)
    store_weak_current_model()
    out = StringIO()
    call_command("train_retry_model", stdout=out)
    text = out.getvalue()
    current = RetryModelVersion.objects.get(is_current=True)
    assert current.version.startswith("retry-2")
    assert f"promoted: {current.version} is now the current model" in text
    header = next(line for line in text.splitlines() if line.startswith("metric"))
    assert current.version in header and "retry-weak" in header
    auc = next(line for line in text.splitlines() if line.startswith("ROC-AUC")).split()
    assert float(auc[1]) > float(auc[2])
    assert "held out:" in text and "decile" in text


def test_dry_run_stores_nothing() -> None:
    generate_history(cases=400, seed=21, end=END)
    out = StringIO()
    call_command("train_retry_model", "--dry-run", stdout=out)
    assert "dry run:" in out.getvalue()
    assert not RetryModelVersion.objects.exists()
