"""Judging fraud models: the time split never leaks, metrics match hand computation, the promotion rule."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraud.evaluation import (
    BudgetResult,
    Evaluation,
    compare_on_later_slice,
    evaluate,
    format_report,
    is_better,
    review_count,
    time_ordered_split,
)


def test_later_rows_are_the_test_slice_whatever_the_input_order() -> None:
    times = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0])
    train, test = time_ordered_split(times, test_share=0.25)
    assert list(times[train]) == [1, 2, 3, 4, 5, 7]
    assert list(times[test]) == [8, 9]


def test_rows_sharing_the_cut_time_all_go_to_test() -> None:
    times = [1, 2, 3, 4, 5, 6, 6, 6, 7, 8]
    train, test = time_ordered_split(times, test_share=0.3)  # nominal cut between the 2nd and 3rd 6
    assert sorted(train) == [0, 1, 2, 3, 4]
    assert sorted(test) == [5, 6, 7, 8, 9]


@given(st.lists(st.integers(min_value=0, max_value=30), min_size=2, max_size=80), st.floats(0.05, 0.95))
def test_no_training_row_is_as_late_as_any_test_row(times: list[int], share: float) -> None:
    try:
        train, test = time_ordered_split(times, test_share=share)
    except ValueError:
        # Only when the rows tied at the cut reach back to the very first time.
        assert sorted(times)[len(times) - review_count(share, len(times))] == min(times)
        return
    t = np.asarray(times)
    assert t[train].max() < t[test].min()
    assert sorted([*train, *test]) == list(range(len(times)))
    assert len(test) >= math.ceil(share * len(times))


@pytest.mark.parametrize("share", [0, 1, -0.1, 1.5])
def test_test_share_must_lie_between_0_and_1(share: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        time_ordered_split([1, 2, 3, 4], test_share=share)


def test_all_rows_at_one_time_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="nothing earlier to train on"):
        time_ordered_split([5, 5, 5, 5], test_share=0.25)


def test_metrics_match_hand_computed_values() -> None:
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    result = evaluate(y, s, budgets=(0.25, 0.5), bins=2)
    assert result.rows == 4 and result.positives == 2
    # Pairs (fraud, other) ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: (0.35 < 0.4).
    assert result.roc_auc == pytest.approx(3 / 4)
    # Precision at each fraud in score order: 1/1 at 0.8, 2/3 at 0.35.
    assert result.average_precision == pytest.approx((1 + 2 / 3) / 2)
    assert result.brier == pytest.approx((0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4)
    assert result.budgets == (
        BudgetResult(review_rate=0.25, threshold=0.8, flagged=1, precision=1.0, recall=0.5),
        BudgetResult(review_rate=0.5, threshold=0.4, flagged=2, precision=0.5, recall=0.5),
    )
    low, high = result.calibration
    assert (low.lower, low.upper, low.rows, low.observed_rate) == (0.1, 0.35, 2, 0.5)
    assert low.mean_predicted == pytest.approx(0.225)
    assert (high.lower, high.upper, high.rows, high.observed_rate) == (0.4, 0.8, 2, 0.5)


def test_review_budget_flags_the_top_ceil_rate_times_rows() -> None:
    y = np.zeros(150, dtype=int)
    y[:3] = 1
    s = np.linspace(0.99, 0.0, 150)  # the three fraud rows score highest
    result = evaluate(y, s)
    one, two, five = result.budgets
    assert (one.flagged, two.flagged, five.flagged) == (2, 3, 8)  # ceil(1.5), ceil(3), ceil(7.5)
    assert (one.precision, one.recall) == (1.0, pytest.approx(2 / 3))
    assert (two.precision, two.recall) == (1.0, 1.0)
    assert (five.precision, five.recall) == (3 / 8, 1.0)
    assert one.threshold == pytest.approx(s[1])
    assert result.recall_at(0.02) == 1.0


def test_rows_tied_at_the_threshold_count_their_expected_fraud_not_a_lucky_order() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    s = np.array([0.5, 0.9, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    (budget,) = evaluate(y, s, budgets=(0.2,)).budgets
    # Two places: the 0.9 row (fraud), then one of three rows tied at 0.5, of which one is fraud.
    assert budget.threshold == 0.5 and budget.flagged == 2
    assert budget.precision == pytest.approx((1 + 1 / 3) / 2)
    assert budget.recall == pytest.approx((1 + 1 / 3) / 2)


def test_calibration_bins_keep_equal_scores_together() -> None:
    y = np.array([0, 1, 0, 0, 1, 0])
    s = np.array([0.2, 0.2, 0.2, 0.2, 0.7, 0.9])
    bins = evaluate(y, s, bins=3).calibration
    assert sum(b.rows for b in bins) == 6
    assert bins[0].rows == 4 and bins[0].observed_rate == 0.25


def test_recall_ceiling_is_flagged_rows_over_fraud_rows() -> None:
    y = np.zeros(200, dtype=int)
    y[:40] = 1
    result = evaluate(y, np.linspace(0, 1, 200))
    assert result.recall_ceiling(0.05) == 10 / 40
    assert result.recall_ceiling(0.01) == 2 / 40
    assert evaluate(y[:100], np.linspace(0, 1, 100)).recall_ceiling(0.5) == 1.0


def test_recall_at_an_unevaluated_rate_is_an_error() -> None:
    result = evaluate(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.2, 0.8]))
    with pytest.raises(KeyError, match=r"0\.1; evaluated at 0\.01, 0\.02, 0\.05"):
        result.recall_at(0.1)


def test_to_dict_is_json() -> None:
    result = evaluate(np.array([0, 1, 0, 1, 0]), np.array([0.1, 0.9, 0.2, 0.8, 0.3]))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["roc_auc"] == 1.0 and data["rows"] == 5
    assert data["budgets"][2] == {
        "review_rate": 0.05,
        "threshold": 0.9,
        "flagged": 1,
        "precision": 1.0,
        "recall": 0.5,
        "recall_ceiling": 0.5,
    }
    assert len(data["calibration"]) == 5


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([0, 0, 0], [0.1, 0.2, 0.3], "both fraud and other rows"),
        ([1, 1], [0.1, 0.2], "both fraud and other rows"),
        ([0, 1], [0.1, 1.2], r"probabilities in \[0, 1\]"),
        ([0, 1], [0.1, np.nan], r"probabilities in \[0, 1\]"),
        ([0, 1, 1], [0.1, 0.2], "one length"),
        ([0, 3], [0.1, 0.2], "only 0 and 1"),
    ],
)
def test_unusable_evaluation_input_is_a_clear_error(y: list[int], s: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(np.array(y), np.array(s))


def scored(*, auc: float, recall_at_5: float, rows: int = 1000, positives: int = 40) -> Evaluation:
    budgets = tuple(
        BudgetResult(review_rate=rate, threshold=0.5, flagged=math.ceil(rate * rows), precision=0.5, recall=recall)
        for rate, recall in ((0.01, 0.1), (0.02, 0.2), (0.05, recall_at_5))
    )
    return Evaluation(
        rows=rows,
        positives=positives,
        roc_auc=auc,
        average_precision=0.3,
        brier=0.03,
        budgets=budgets,
        calibration=(),
    )


def test_higher_auc_and_no_lower_recall_is_better() -> None:
    better, reason = is_better(scored(auc=0.85, recall_at_5=0.6), scored(auc=0.80, recall_at_5=0.6))
    assert better
    assert reason == "better: ROC-AUC 0.8500 vs 0.8000, recall at 5% review 60.0% vs 60.0%"


def test_higher_auc_with_lower_recall_at_5_percent_is_not_better() -> None:
    better, reason = is_better(scored(auc=0.85, recall_at_5=0.55), scored(auc=0.80, recall_at_5=0.6))
    assert not better
    assert reason.startswith("recall at 5% review is lower (recall at 5% review 55.0% vs 60.0%")


def test_equal_or_lower_auc_is_not_better_even_with_higher_recall() -> None:
    assert not is_better(scored(auc=0.80, recall_at_5=0.9), scored(auc=0.80, recall_at_5=0.6))[0]
    better, reason = is_better(scored(auc=0.79, recall_at_5=0.9), scored(auc=0.80, recall_at_5=0.6))
    assert not better and reason.startswith("ROC-AUC not higher")


def test_anything_beats_no_current_model() -> None:
    assert is_better(scored(auc=0.6, recall_at_5=0.1), None) == (True, "no current model to beat")


def test_evaluations_on_different_slices_are_not_compared() -> None:
    candidate = replace(scored(auc=0.9, recall_at_5=0.9), rows=1200)
    better, reason = is_better(candidate, scored(auc=0.8, recall_at_5=0.5))
    assert not better and reason.startswith("not comparable")


def test_report_shows_every_model_metric_and_calibration_table() -> None:
    y = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0, 1] * 10)
    s = np.linspace(0.01, 0.5, 100)
    text = format_report({"gbm": evaluate(y, s), "logistic": evaluate(y, s[::-1])})
    header = text.splitlines()[0].split()
    assert header == ["metric", "gbm", "logistic"]
    for label in ("ROC-AUC", "average precision", "Brier score", "at 5% review (5 rows): recall", "best possible"):
        assert label in text
    assert "calibration of gbm" in text and "calibration of logistic" in text


def test_comparison_fits_on_earlier_rows_and_scores_later_ones() -> None:
    rng = np.random.default_rng(0)
    n = 1200
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * X[:, 0] - 2.5)))).astype(int)
    times = rng.permutation(n).astype(float)  # rows need not arrive in time order
    progress: list[str] = []
    result = compare_on_later_slice(X, y, times, test_share=0.25, progress=progress.append)
    assert result.train_until < result.test_from
    assert result.train_rows == 900 and result.evaluations["gbm"].rows == 300
    assert result.fitted_on["gbm"].fit_rows + result.fitted_on["gbm"].calibration_rows == 900
    assert result.evaluations["logistic"].roc_auc > 0.75
    assert progress[0] == "fitting gbm on 900 earlier rows"


def test_review_count_is_not_thrown_by_float_rounding() -> None:
    assert 0.07 * 100 > 7  # the trap
    assert review_count(0.07, 100) == 7
    assert review_count(0.05, 5375) == 269
