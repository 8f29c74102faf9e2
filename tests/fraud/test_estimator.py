"""The fraud training pipeline: learns with NaNs present, calibrates on the latest rows, deterministic, clear errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import roc_auc_score

from fraud import estimator
from fraud.estimator import TrainingDataError, calibration_start, fit_model, fraud_probability


def planted(n: int, *, seed: int, fraud_rate: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Rows in time order whose fraud depends on two of six features (one nonlinearly); 15 % of cells absent."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    logit = np.log(fraud_rate / (1 - fraud_rate)) + 1.5 * X[:, 0] + 1.5 * (np.abs(X[:, 1]) > 1.2) - 0.7
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X[rng.random(X.shape) < 0.15] = np.nan
    return X, y


@pytest.mark.parametrize("kind", ["gbm", "logistic"])
def test_learns_a_planted_signal_with_absent_features_and_scores_a_later_slice(kind: estimator.ModelKind) -> None:
    X, y = planted(3000, seed=1)
    model = fit_model(X[:2000], y[:2000], kind=kind)
    scores = fraud_probability(model, X[2000:])
    assert scores.shape == (1000,)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert roc_auc_score(y[2000:], scores) > 0.7  # about 0.82 for the true logit without absent cells


@pytest.mark.parametrize("kind", ["gbm", "logistic"])
def test_same_random_state_gives_identical_probabilities(kind: estimator.ModelKind) -> None:
    X, y = planted(1500, seed=2)
    first = fraud_probability(fit_model(X, y, kind=kind, random_state=7), X)
    second = fraud_probability(fit_model(X, y, kind=kind, random_state=7), X)
    assert np.array_equal(first, second)


@pytest.mark.parametrize("kind", ["gbm", "logistic"])
@pytest.mark.parametrize("isotonic_from", [1000, 30])
def test_fast_scoring_equals_scikit_learns_calibrated_predict_proba(
    kind: estimator.ModelKind, isotonic_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(estimator, "ISOTONIC_MIN_POSITIVES", isotonic_from)
    X, y = planted(2000, seed=3, fraud_rate=0.3)
    model = fit_model(X, y, kind=kind)
    assert model.method == ("isotonic" if isotonic_from == 30 else "sigmoid")
    np.testing.assert_allclose(fraud_probability(model, X), model.predict_proba(X)[:, 1], rtol=0, atol=1e-12)


def test_one_row_may_be_given_flat() -> None:
    X, y = planted(1000, seed=4)
    model = fit_model(X, y)
    assert fraud_probability(model, X[5]).shape == (1,)
    assert fraud_probability(model, X[5])[0] == fraud_probability(model, X[:10])[5]


def test_model_is_plain_scikit_learn_and_survives_pickling() -> None:
    X, y = planted(1000, seed=5)
    model = fit_model(X, y)
    assert isinstance(model, CalibratedClassifierCV)
    restored = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own bytes, made a line earlier
    assert np.array_equal(fraud_probability(restored, X), fraud_probability(model, X))


def test_calibration_is_fitted_on_the_latest_rows_so_it_follows_a_changed_fraud_rate() -> None:
    # Same signal throughout, but fraud is far more common in the older rows than in the latest ones.
    X_old, y_old = planted(3000, seed=6, fraud_rate=0.4)
    X_new, y_new = planted(1000, seed=7, fraud_rate=0.05)
    X, y = np.vstack([X_old, X_new]), np.concatenate([y_old, y_new])
    assert calibration_start(y) == 3200
    X_later, y_later = planted(4000, seed=8, fraud_rate=0.05)
    mean_predicted = fraud_probability(fit_model(X, y), X_later).mean()
    assert abs(mean_predicted - y_later.mean()) < 0.03
    assert y_old.mean() > 0.3


def test_calibration_slice_is_the_latest_fifth_when_it_holds_enough_of_each_class() -> None:
    y = np.tile([0, 0, 0, 0, 1], 200)
    assert calibration_start(y) == 800


def test_calibration_slice_grows_back_to_find_enough_fraud() -> None:
    y = np.zeros(1000, dtype=int)
    y[np.arange(0, 1000, 10)] = 1  # 100 fraud, one every 10 rows
    y[850:] = 0  # none in the latest 150, so only 5 in the latest fifth
    start = calibration_start(y)
    assert start == 650
    assert y[start:].sum() == 20 and y[:start].sum() == 65


def test_no_fraud_is_a_clear_error() -> None:
    X, _ = planted(200, seed=9)
    with pytest.raises(TrainingDataError, match="no fraud"):
        fit_model(X, np.zeros(200, dtype=int))


def test_only_fraud_is_a_clear_error() -> None:
    X, _ = planted(200, seed=9)
    with pytest.raises(TrainingDataError, match="only fraud"):
        fit_model(X, np.ones(200, dtype=int))


def test_too_few_fraud_rows_says_how_many_are_needed() -> None:
    X, _ = planted(500, seed=10)
    y = np.zeros(500, dtype=int)
    y[::20] = 1  # 25
    with pytest.raises(TrainingDataError, match=r"25 fraud and 475 other rows; each class needs at least 40"):
        fit_model(X, y)


def test_fraud_only_in_the_older_half_cannot_be_calibrated() -> None:
    X, _ = planted(1000, seed=11)
    y = np.zeros(1000, dtype=int)
    y[:400:5] = 1  # 80 fraud, all in the oldest 40 %
    with pytest.raises(TrainingDataError, match=r"latest 20% of the rows \(200\) hold 0 fraud.*latest 50%"):
        fit_model(X, y)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.full((100, 2), np.inf), np.tile([0, 1], 50), "infinite"),
        (np.zeros((100, 2)), np.tile([0, 2], 50), "only 0"),
        (np.zeros((100, 2)), np.tile([0, 1], 40), "as many rows"),
        (np.zeros(100), np.tile([0, 1], 50), "2-D"),
    ],
)
def test_malformed_input_is_a_clear_error(X: np.ndarray, y: np.ndarray, message: str) -> None:
    with pytest.raises(TrainingDataError, match=message):
        fit_model(X, y)


def test_unknown_kind_is_refused() -> None:
    X, y = planted(500, seed=12)
    with pytest.raises(ValueError, match="unknown model kind 'forest'; known: gbm, logistic"):
        fit_model(X, y, kind="forest")  # type: ignore[arg-type]


def test_scoring_with_the_wrong_number_of_features_is_refused() -> None:
    X, y = planted(1000, seed=13)
    model = fit_model(X, y)
    with pytest.raises(ValueError, match="features"):
        fraud_probability(model, X[:, :5])
