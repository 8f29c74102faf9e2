"""The one scikit-learn pipeline every fraud model is trained with: a classifier calibrated on the latest rows."""

from __future__ import annotations

import math
from functools import cache
from typing import Any, Literal

import numpy as np
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

__all__ = [
    "CALIBRATION_SHARE",
    "ModelKind",
    "TrainingDataError",
    "calibration_method",
    "calibration_start",
    "fit_model",
    "fraud_probability",
]

ModelKind = Literal["gbm", "logistic"]
Calibration = Literal["sigmoid", "isotonic"]
MODEL_KINDS: tuple[ModelKind, ...] = ("gbm", "logistic")

# The latest 20 % of the training rows fit the calibration; the booster never sees them.
CALIBRATION_SHARE = 0.2
# Each class needs this many rows in the calibration slice and again in the fitting slice.
MIN_CLASS_ROWS = 20
# The calibration slice may grow back towards older rows to find enough of each class, up to this share.
MAX_CALIBRATION_SHARE = 0.5
# Isotonic calibration is a step function: with few positives its steps are coarse, it overfits, and rows
# on one step tie, which flattens the ranking a review queue depends on. Below this, Platt (sigmoid).
ISOTONIC_MIN_POSITIVES = 1000

# Fixed before looking at any evaluation data, not tuned. Early stopping is off because its validation
# split is a shuffled one. Scoring one row costs about 6 µs per tree, so 100 shallow trees keep it near 1 ms.
GBM_PARAMETERS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
}


@cache
def _threads() -> ThreadpoolController:
    return ThreadpoolController()


def _one_thread() -> Any:
    """A context with one OpenMP thread, for fitting and scoring.

    Web and worker processes share few cores, and OpenMP threads then spin-wait against each other: fitting
    20,000 rows took 75 s with two threads and 0.6 s with one on the 2-core development machine under load.
    One row also scores faster on one thread. The controller is built once; building it costs 1.5 ms.
    """
    return _threads().limit(limits=1, user_api="openmp")


class TrainingDataError(ValueError):
    """Rows that cannot train and calibrate a model (wrong shape, one class only, too few of a class)."""


def fit_model(X: np.ndarray, y: np.ndarray, *, kind: ModelKind = "gbm", random_state: int = 0) -> Any:
    """A fitted, calibrated classifier: a plain scikit-learn CalibratedClassifierCV, so skops can store it.

    Rows must be in time order, oldest first: the classifier is fitted on the earlier rows and the calibration on
    the latest ones (calibration_start), never on shuffled folds. X may hold NaN for "feature absent".
    Raises TrainingDataError (a ValueError) saying what is missing when the rows cannot do this.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    X, y = _checked(X, y)
    start = calibration_start(y)
    X_fit, y_fit, X_cal, y_cal = X[:start], y[:start], X[start:], y[start:]

    base: HistGradientBoostingClassifier | Pipeline
    if kind == "gbm":
        # Missing values go down whichever branch the training found best: no imputation needed.
        base = HistGradientBoostingClassifier(**GBM_PARAMETERS, random_state=random_state)
    else:
        base = make_pipeline(
            # The indicator lets the model learn that "absent" itself means something (e.g. no geolocation).
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=2000, random_state=random_state),
        )
    # Logistic regression is calibrated on its own training rows, but those are older: recalibrating on the
    # latest rows corrects a fraud rate that has drifted since, for both kinds alike.
    calibrated = CalibratedClassifierCV(FrozenEstimator(base), method=calibration_method(y_cal))
    with _one_thread():
        base.fit(X_fit, y_fit)
        calibrated.fit(X_cal, y_cal)
    return calibrated


def calibration_method(y_cal: np.ndarray) -> Calibration:
    positives = int(np.sum(y_cal))
    return "isotonic" if min(positives, len(y_cal) - positives) >= ISOTONIC_MIN_POSITIVES else "sigmoid"


def fraud_probability(model: Any, X: np.ndarray) -> np.ndarray:
    """P(fraud) for each row of X (one row may be given 1-D), shape (n,)."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    parts = _calibration_parts(model)
    if parts is None:
        # Any other classifier fitted on 0/1 labels: column 1 is fraud.
        with _one_thread():
            return np.asarray(model.predict_proba(X)[:, 1], dtype=float)
    # What CalibratedClassifierCV.predict_proba computes for a binary problem, without its per-call checks
    # (they cost about 1 ms a row, half the scoring budget); a test holds the two equal.
    base, calibrator = parts
    with _one_thread():
        decision = np.asarray(base.decision_function(X), dtype=float)
    if model.method == "sigmoid":
        return np.asarray(expit(-(calibrator.a_ * decision + calibrator.b_)), dtype=float)
    # Isotonic: linear interpolation through the fitted steps, clipped at both ends.
    return np.interp(decision, calibrator.X_thresholds_, calibrator.y_thresholds_)


def _calibration_parts(model: Any) -> tuple[Any, Any] | None:
    """The frozen classifier and the positive class's calibrator, if model is what fit_model returns."""
    if not isinstance(model, CalibratedClassifierCV) or model.method not in ("sigmoid", "isotonic"):
        return None
    fitted = getattr(model, "calibrated_classifiers_", None)
    if fitted is None or len(fitted) != 1 or len(fitted[0].calibrators) != 1 or list(model.classes_) != [0, 1]:
        return None
    base = fitted[0].estimator
    base = getattr(base, "estimator", base) if isinstance(base, FrozenEstimator) else base
    if not hasattr(base, "decision_function"):
        return None
    return base, fitted[0].calibrators[0]


def _checked(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise TrainingDataError(f"X must be 2-D and y 1-D with as many rows; got X {X.shape}, y {y.shape}")
    if X.shape[1] == 0:
        raise TrainingDataError("X has no feature columns")
    if np.isinf(X).any():
        raise TrainingDataError("X holds infinite values; use NaN for an absent feature")
    if not np.isin(y, (0, 1)).all():
        raise TrainingDataError("y must hold only 0 (not fraud) and 1 (fraud)")
    y = y.astype(int)
    positives = int(y.sum())
    negatives = len(y) - positives
    need = 2 * MIN_CLASS_ROWS
    if positives == 0:
        raise TrainingDataError("the training rows hold no fraud (y has no 1s): nothing to learn")
    if negatives == 0:
        raise TrainingDataError("the training rows hold only fraud (y has no 0s): nothing to learn")
    if positives < need or negatives < need:
        raise TrainingDataError(
            f"the training rows hold {positives} fraud and {negatives} other rows; each class needs at least "
            f"{need} ({MIN_CLASS_ROWS} to fit, {MIN_CLASS_ROWS} to calibrate)"
        )
    return X, y


def calibration_start(y: np.ndarray) -> int:
    """The first row of the calibration slice; rows before it fit the classifier.

    The slice is the latest CALIBRATION_SHARE of the rows, grown back towards older rows until it holds
    MIN_CLASS_ROWS of each class, to at most MAX_CALIBRATION_SHARE. Raises TrainingDataError when that is not
    enough or leaves fewer than MIN_CLASS_ROWS of a class to fit on.
    """
    n = len(y)
    start = n - max(1, math.ceil(CALIBRATION_SHARE * n))
    # Counting from the end: the row where the latest MIN_CLASS_ROWS rows of each class begin.
    for label in (0, 1):
        rows_of_class = np.flatnonzero(y == label)
        enough = len(rows_of_class) >= MIN_CLASS_ROWS
        start = min(start, int(rows_of_class[-MIN_CLASS_ROWS]) if enough else -1)
    earliest = n - math.floor(MAX_CALIBRATION_SHARE * n)
    fit_positives = int(y[:start].sum())
    if start >= earliest and min(fit_positives, start - fit_positives) >= MIN_CLASS_ROWS:
        return start
    latest, half = y[n - max(1, math.ceil(CALIBRATION_SHARE * n)) :], y[earliest:]
    raise TrainingDataError(
        f"too few rows of a class in the right places: the latest {CALIBRATION_SHARE:.0%} of the rows "
        f"({len(latest)}) hold {int(latest.sum())} fraud and {len(latest) - int(latest.sum())} other rows, the "
        f"latest {MAX_CALIBRATION_SHARE:.0%} ({len(half)}) {int(half.sum())} and {len(half) - int(half.sum())}; "
        f"calibration needs {MIN_CLASS_ROWS} of each within the latest {MAX_CALIBRATION_SHARE:.0%}, and fitting "
        f"another {MIN_CLASS_ROWS} of each before them"
    )
