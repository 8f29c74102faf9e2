"""Training: a time split, held-out metrics, JSON parameters, and promotion only when strictly better."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from dunning.models import RetryModelVersion
from dunning.retry_model import LogisticRetryModel, current_model
from dunning.retry_training import examples_from_attempts, history_rows, time_split, train
from dunning.synthetic_history import generate_history
from tests.dunning.core_fixtures import store_weak_current_model

END = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> None:
    generate_history(cases=400, seed=21, end=END)


def test_held_out_slice_is_strictly_later_than_the_training_slice(history: None) -> None:
    examples = examples_from_attempts(history_rows())
    training, held_out = time_split(examples)
    assert len(held_out) >= 0.15 * len(examples)
    assert max(e.at for e in training) < min(e.at for e in held_out)
    report = train(history_rows(), now=NOW, dry_run=True)
    assert report.train_until < report.held_out_from


def test_report_holds_every_metric_for_new_and_current(history: None) -> None:
    report = train(history_rows(), now=NOW, dry_run=True)
    for metrics in (report.new, report.current):
        assert metrics.roc_auc is not None and 0 <= metrics.roc_auc <= 1
        assert 0 <= metrics.brier <= 1 and metrics.log_loss > 0
        assert len(metrics.calibration) == 10
        assert sum(row["rows"] for row in metrics.calibration) == report.held_out_rows
    assert report.current_version == "prior-1"
    assert not report.stored and not RetryModelVersion.objects.exists()


def test_stored_parameters_round_trip_to_identical_predictions(history: None) -> None:
    store_weak_current_model()
    report = train(history_rows(), now=NOW)
    row = RetryModelVersion.objects.get(version=report.version)
    loaded = LogisticRetryModel.from_parameters(row.version, row.parameters)
    for example in examples_from_attempts(history_rows())[:50]:
        assert loaded.predict(example.features) == report.model.predict(example.features)
        assert 0 < loaded.predict(example.features) < 1
    assert loaded.explain(example.features)


def test_versions_are_named_by_time_and_parameter_hash(history: None) -> None:
    report = train(history_rows(), now=NOW, dry_run=True)
    assert re.fullmatch(r"retry-20261102083000-[0-9a-f]{8}", report.version)


def test_promotion_follows_the_rule_against_the_prior(history: None) -> None:
    report = train(history_rows(), now=NOW)
    assert report.new.roc_auc is not None and report.current.roc_auc is not None
    better = report.new.roc_auc > report.current.roc_auc and report.new.brier <= report.current.brier
    assert report.promoted == better
    assert (current_model().version == report.version) == better


def test_a_better_model_is_promoted_and_an_identical_retrain_is_not(history: None) -> None:
    store_weak_current_model()
    first = train(history_rows(), now=NOW)
    assert first.promoted and first.stored
    assert current_model().version == first.version
    second = train(history_rows(), now=datetime(2026, 11, 3, tzinfo=UTC))
    assert not second.promoted
    assert second.new.roc_auc == second.current.roc_auc
    assert "not promoted" in second.decision
    assert current_model().version == first.version
    assert RetryModelVersion.objects.filter(is_current=True).count() == 1
