"""Judging fraud models: the time-ordered split, metrics at review budgets, calibration, and the promotion rule."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from fraud.estimator import ModelKind, calibration_start, fit_model, fraud_probability

__all__ = [
    "PROMOTION_BUDGET",
    "PROMOTION_RULE",
    "REVIEW_BUDGETS",
    "BudgetResult",
    "CalibrationBin",
    "Evaluation",
    "FittedOn",
    "LaterSliceComparison",
    "compare_on_later_slice",
    "evaluate",
    "format_report",
    "is_better",
    "review_count",
    "time_ordered_split",
]

# Shares of rows a reviewer looks at: the top 1 %, 2 % and 5 % by score.
REVIEW_BUDGETS = (0.01, 0.02, 0.05)
PROMOTION_BUDGET = 0.05
PROMOTION_RULE = (
    "promote only if ROC-AUC is strictly higher and recall at the 5% review rate is no lower, "
    "both measured on the same later slice"
)


@dataclass(frozen=True)
class BudgetResult:
    """The top ceil(review_rate * rows) rows by score, flagged for review."""

    review_rate: float
    threshold: float  # the lowest flagged score
    flagged: int
    precision: float
    recall: float


@dataclass(frozen=True)
class CalibrationBin:
    """Rows whose predicted probability lies in [lower, upper] (quantile bins: about equal row counts)."""

    lower: float
    upper: float
    rows: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class Evaluation:
    """One model's scores judged against the labels of one slice."""

    rows: int
    positives: int
    roc_auc: float
    average_precision: float
    brier: float
    budgets: tuple[BudgetResult, ...]
    calibration: tuple[CalibrationBin, ...]

    def budget(self, review_rate: float) -> BudgetResult:
        for result in self.budgets:
            if math.isclose(result.review_rate, review_rate):
                return result
        known = ", ".join(f"{b.review_rate:g}" for b in self.budgets)
        raise KeyError(f"no result at review rate {review_rate:g}; evaluated at {known}")

    def recall_at(self, review_rate: float) -> float:
        return self.budget(review_rate).recall

    def recall_ceiling(self, review_rate: float) -> float:
        """The best recall any model could reach at this review rate: flagged rows / fraud rows, at most 1."""
        return min(1.0, review_count(review_rate, self.rows) / self.positives)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for storing on a model version."""
        data = asdict(self)
        data["budgets"] = [
            {**budget, "recall_ceiling": self.recall_ceiling(budget["review_rate"])} for budget in data["budgets"]
        ]
        return data


def time_ordered_split(
    times: Sequence[float] | np.ndarray, *, test_share: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test), each in time order: test is the latest test_share of rows by time.

    Rows sharing the time at the cut all go to test, so no training row is as late as any test row.
    """
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must lie strictly between 0 and 1, got {test_share}")
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or not np.isfinite(t).all():
        raise ValueError("times must be a 1-D sequence of finite numbers")
    order = np.argsort(t, kind="stable")
    n = len(t)
    cut = n - review_count(test_share, n)
    if cut <= 0 or cut >= n:
        raise ValueError(f"{n} rows cannot be split into a non-empty earlier and later slice")
    # Move the cut back to the first row at the cut's time: ties land in test together.
    cut = int(np.searchsorted(t[order], t[order[cut]], side="left"))
    if cut == 0:
        raise ValueError("the rows at the cut's time reach back to the earliest row: nothing earlier to train on")
    return order[:cut], order[cut:]


def evaluate(
    y_true: np.ndarray, scores: np.ndarray, *, budgets: Sequence[float] = REVIEW_BUDGETS, bins: int = 10
) -> Evaluation:
    """Ranking, review-budget and calibration metrics of predicted fraud probabilities against labels."""
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"y_true and scores must be 1-D and of one length; got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if not ((s >= 0) & (s <= 1)).all():
        raise ValueError("scores must be probabilities in [0, 1]")
    y = y.astype(int)
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise ValueError(f"the evaluation rows need both fraud and other rows; they hold {positives} of {len(y)}")
    if any(not 0 < rate <= 1 for rate in budgets):
        raise ValueError(f"review budgets must lie in (0, 1], got {list(budgets)}")
    if bins < 1:
        raise ValueError("bins must be at least 1")
    return Evaluation(
        rows=len(y),
        positives=positives,
        roc_auc=float(roc_auc_score(y, s)),
        average_precision=float(average_precision_score(y, s)),
        brier=float(brier_score_loss(y, s)),
        budgets=tuple(_budget(y, s, rate) for rate in budgets),
        calibration=_calibration(y, s, bins),
    )


def review_count(rate: float, rows: int) -> int:
    """ceil(rate * rows), the rows a review budget flags; rounded first so 0.07 * 100 is 7, not 8."""
    return math.ceil(round(rate * rows, 9))


def _budget(y: np.ndarray, s: np.ndarray, rate: float) -> BudgetResult:
    k = review_count(rate, len(y))
    threshold = float(np.sort(s)[::-1][k - 1])
    above = s > threshold
    tied = s == threshold
    # Rows tied at the threshold fill the remaining places; which of them a reviewer sees is arbitrary, so count
    # their expected fraud (the tied rows' fraud rate times the places) instead of favouring any row order.
    places = k - int(above.sum())
    caught = float(y[above].sum()) + places * float(y[tied].mean())
    return BudgetResult(
        review_rate=rate, threshold=threshold, flagged=k, precision=caught / k, recall=caught / float(y.sum())
    )


def _calibration(y: np.ndarray, s: np.ndarray, bins: int) -> tuple[CalibrationBin, ...]:
    # Quantile bins, not equal-width: fraud scores crowd near 0, where equal-width bins would put nearly every row
    # in the first bin. Equal scores always share a bin, so there can be fewer bins than asked for.
    edges = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)))
    which = np.searchsorted(edges[1:-1], s, side="right")
    result: list[CalibrationBin] = []
    for i in range(len(edges) - 1 if len(edges) > 1 else 1):
        members = which == i
        if not members.any():
            continue
        result.append(
            CalibrationBin(
                lower=float(s[members].min()),
                upper=float(s[members].max()),
                rows=int(members.sum()),
                mean_predicted=float(s[members].mean()),
                observed_rate=float(y[members].mean()),
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class FittedOn:
    """How a model in a comparison was fitted: rows for the classifier, then the latest rows for calibration."""

    fit_rows: int
    calibration_rows: int
    calibration_positives: int
    calibration: str  # "sigmoid" or "isotonic"


@dataclass(frozen=True)
class LaterSliceComparison:
    """Models fitted on the earlier rows and evaluated on the later ones (times in epoch seconds)."""

    train_rows: int
    train_positives: int
    train_from: float
    train_until: float
    test_from: float
    test_until: float
    models: dict[str, Any]  # fit_model's results
    fitted_on: dict[str, FittedOn]
    evaluations: dict[str, Evaluation]


def compare_on_later_slice(
    X: np.ndarray,
    y: np.ndarray,
    times: np.ndarray,
    *,
    kinds: Sequence[ModelKind] = ("gbm", "logistic"),
    test_share: float = 0.25,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> LaterSliceComparison:
    """Fit each kind on the earlier rows, score the latest test_share of rows, evaluate. Nothing is stored."""
    say = progress or (lambda _: None)
    t = np.asarray(times, dtype=float)
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if not len(t) == len(X) == len(y):
        raise ValueError(f"X, y and times differ in length: {len(X)}, {len(y)}, {len(t)}")
    train, test = time_ordered_split(t, test_share=test_share)
    models: dict[str, Any] = {}
    fitted_on: dict[str, FittedOn] = {}
    evaluations: dict[str, Evaluation] = {}
    for kind in kinds:
        say(f"fitting {kind} on {len(train)} earlier rows")
        model = fit_model(X[train], y[train], kind=kind, random_state=random_state)
        say(f"scoring {kind} on {len(test)} later rows")
        models[kind] = model
        evaluations[kind] = evaluate(y[test], fraud_probability(model, X[test]))
        start = calibration_start(y[train].astype(int))
        fitted_on[kind] = FittedOn(
            fit_rows=start,
            calibration_rows=len(train) - start,
            calibration_positives=int(y[train][start:].sum()),
            calibration=str(model.method),
        )
    return LaterSliceComparison(
        train_rows=len(train),
        train_positives=int(y[train].sum()),
        train_from=float(t[train[0]]),
        train_until=float(t[train[-1]]),
        test_from=float(t[test[0]]),
        test_until=float(t[test[-1]]),
        models=models,
        fitted_on=fitted_on,
        evaluations=evaluations,
    )


def is_better(candidate: Evaluation, current: Evaluation | None) -> tuple[bool, str]:
    """Whether the candidate should replace the current model, and why, in words (PROMOTION_RULE)."""
    if current is None:
        return True, "no current model to beat"
    if (candidate.rows, candidate.positives) != (current.rows, current.positives):
        return False, (
            f"not comparable: the candidate was evaluated on {candidate.rows} rows with {candidate.positives} fraud, "
            f"the current model on {current.rows} rows with {current.positives}; evaluate both on the same slice"
        )
    auc_new, auc_old = candidate.roc_auc, current.roc_auc
    recall_new, recall_old = candidate.recall_at(PROMOTION_BUDGET), current.recall_at(PROMOTION_BUDGET)
    auc_text = f"ROC-AUC {auc_new:.4f} vs {auc_old:.4f}"
    recall_text = f"recall at {PROMOTION_BUDGET:.0%} review {recall_new:.1%} vs {recall_old:.1%}"
    if not auc_new > auc_old:
        return False, f"ROC-AUC not higher ({auc_text}; {recall_text})"
    # A tolerance for float noise only: equal recall computed two ways must count as "no lower".
    if recall_new < recall_old - 1e-9:
        return False, f"recall at {PROMOTION_BUDGET:.0%} review is lower ({recall_text}; {auc_text})"
    return True, f"better: {auc_text}, {recall_text}"


def format_report(named: Mapping[str, Evaluation]) -> str:
    """A plain-text table, one column per model, then each model's calibration table."""
    if not named:
        return "no evaluations"
    names = list(named)
    evaluations = list(named.values())
    width = max(12, *(len(name) + 2 for name in names))
    rates = sorted({b.review_rate for e in evaluations for b in e.budgets})
    label_width = 50
    lines: list[str] = []

    def row(label: str, cells: Sequence[str]) -> None:
        lines.append(f"{label:<{label_width}}" + "".join(f"{cell:>{width}}" for cell in cells))

    row("metric", names)
    row("rows (fraud)", [f"{e.rows} ({e.positives})" for e in evaluations])
    row("fraud rate", [f"{e.positives / e.rows:.2%}" for e in evaluations])
    row("ROC-AUC", [f"{e.roc_auc:.4f}" for e in evaluations])
    row("average precision", [f"{e.average_precision:.4f}" for e in evaluations])
    row("Brier score", [f"{e.brier:.4f}" for e in evaluations])
    for rate in rates:
        flagged = {b.flagged for e in evaluations for b in e.budgets if math.isclose(b.review_rate, rate)}
        prefix = f"at {rate:.0%} review ({'/'.join(str(f) for f in sorted(flagged))} rows)"
        row(f"{prefix}: precision", [_cell(e, rate, "precision") for e in evaluations])
        row(f"{prefix}: recall", [_cell(e, rate, "recall") for e in evaluations])
        row(f"{prefix}: best possible recall", [f"{e.recall_ceiling(rate):.1%}" for e in evaluations])
    for name, evaluation in named.items():
        lines.append("")
        lines.append(f"calibration of {name} (quantile bins of predicted probability):")
        lines.append(f"{'predicted from':>16}{'to':>10}{'rows':>8}{'mean predicted':>16}{'observed':>10}")
        for b in evaluation.calibration:
            lines.append(
                f"{b.lower:>16.4f}{b.upper:>10.4f}{b.rows:>8}{b.mean_predicted:>16.4f}{b.observed_rate:>10.4f}"
            )
    return "\n".join(lines)


def _cell(evaluation: Evaluation, rate: float, field: str) -> str:
    try:
        return f"{getattr(evaluation.budget(rate), field):.1%}"
    except KeyError:
        return "n/a"
