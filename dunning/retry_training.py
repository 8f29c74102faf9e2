"""Training the retry model on our own history: a time split, held-out metrics, and promotion only when better."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
from django.db import transaction
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from dunning.decline_codes import classify_decline
from dunning.models import RecoveryCase, RetryAttempt, RetryModelVersion
from dunning.retry_features import FEATURE_NAMES, RetryFeatures
from dunning.retry_model import ALGORITHM, LogisticRetryModel, RetryModel, current_model

HELD_OUT_SHARE = 0.2  # the latest 20 % of retries, by time, never shuffled
CALIBRATION_SHARE = 0.2  # the latest 20 % of the training slice fits the Platt scaling
PROMOTION_RULE = "promote only if ROC-AUC is strictly higher and the Brier score not worse, on the held-out later slice"


class TrainingError(ValueError):
    """History that cannot train or judge a model (too few rows, one outcome only)."""


@dataclass(frozen=True)
class Example:
    at: datetime
    features: RetryFeatures
    succeeded: bool


@dataclass(frozen=True)
class Metrics:
    rows: int
    successes: int
    roc_auc: float | None
    brier: float
    log_loss: float
    # Deciles of predicted probability: rows, mean predicted, observed success rate.
    calibration: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "successes": self.successes,
            "roc_auc": self.roc_auc,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "calibration": self.calibration,
        }


@dataclass(frozen=True)
class TrainingReport:
    version: str
    rows: int
    train_rows: int
    held_out_rows: int
    train_until: datetime
    held_out_from: datetime
    new: Metrics
    current: Metrics
    current_version: str
    promoted: bool  # judged better; stored as current unless a dry run
    decision: str
    stored: bool
    model: LogisticRetryModel


def examples_from_attempts(attempts: Iterable[RetryAttempt]) -> list[Example]:
    """One example per retry (number >= 1), with its case's history as of that retry."""
    by_case: dict[int, list[RetryAttempt]] = defaultdict(list)
    for attempt in attempts:
        by_case[attempt.case_id].append(attempt)
    cases = {case.pk: case for case in RecoveryCase.objects.filter(pk__in=by_case)}
    # Complete each case's attempt list: a retry needs the decline it answered.
    for attempt in RetryAttempt.objects.filter(case_id__in=by_case).order_by("case_id", "number"):
        if attempt not in by_case[attempt.case_id]:
            by_case[attempt.case_id].append(attempt)
    examples: list[Example] = []
    for case_id, rows in by_case.items():
        rows.sort(key=lambda a: a.number)
        case = cases[case_id]
        for previous, attempt in pairwise(rows):
            if attempt.number < 1:
                continue
            examples.append(
                Example(attempt.attempted_at, _features(case, rows[0], previous, attempt), attempt.succeeded)
            )
    examples.sort(key=lambda e: e.at)
    return examples


def _features(case: RecoveryCase, first: RetryAttempt, previous: RetryAttempt, attempt: RetryAttempt) -> RetryFeatures:
    code = previous.decline_code or case.last_decline_code
    decline_class = previous.decline_class or classify_decline(code="card_declined", decline_code=code).decline_class
    # The customer's history is what the planner recorded when it chose this
    # retry; older rows without it count as a customer with no history.
    history: dict[str, int] = {}
    try:
        recorded = RetryFeatures.from_dict(attempt.features) if attempt.features else None
    except (TypeError, KeyError):
        recorded = None
    if recorded is not None:
        history = {
            "lifetime_value_minor": recorded.lifetime_value_minor,
            "past_failures": recorded.past_failures,
            "past_recoveries": recorded.past_recoveries,
            "past_chargebacks": recorded.past_chargebacks,
        }
    return RetryFeatures.at_time(
        at=attempt.attempted_at,
        first_failed_at=first.attempted_at,
        last_attempt_at=previous.attempted_at,
        decline_class=decline_class,
        decline_code=code,
        attempts_so_far=attempt.number - 1,
        amount_minor=attempt.amount_minor,
        currency=attempt.currency,
        card_brand=case.card_brand,
        card_funding=case.card_funding,
        card_country=case.card_country,
        **history,
    )


def time_split(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """Earliest 80 % to train, the rest held out; every held-out row strictly later than every training row."""
    cut = int(len(examples) * (1 - HELD_OUT_SHARE))
    while 0 < cut < len(examples) and examples[cut].at == examples[cut - 1].at:
        cut += 1
    return examples[:cut], examples[cut:]


def evaluate(predicted: np.ndarray, outcomes: np.ndarray) -> Metrics:
    clipped = np.clip(predicted, 1e-6, 1 - 1e-6)
    both = 0 < outcomes.sum() < len(outcomes)
    order = np.argsort(predicted, kind="stable")
    calibration = [
        {
            "decile": i + 1,
            "rows": len(idx),
            "predicted": round(float(predicted[idx].mean()), 4),
            "observed": round(float(outcomes[idx].mean()), 4),
        }
        for i, idx in enumerate(np.array_split(order, 10))
        if len(idx)
    ]
    return Metrics(
        rows=len(outcomes),
        successes=int(outcomes.sum()),
        roc_auc=round(float(roc_auc_score(outcomes, predicted)), 4) if both else None,
        brier=round(float(brier_score_loss(outcomes, clipped)), 4),
        log_loss=round(float(log_loss(outcomes, clipped, labels=[0, 1])), 4),
        calibration=calibration,
    )


def fit(examples: list[Example], *, version: str = "unsaved") -> LogisticRetryModel:
    """Standardise, fit a logistic regression on the earlier part, Platt-scale it on the later part."""
    x = np.array([e.features.vectorise() for e in examples])
    y = np.array([e.succeeded for e in examples], dtype=int)
    if len(set(y.tolist())) < 2:
        raise TrainingError("the training slice holds only one outcome")
    cut = int(len(examples) * (1 - CALIBRATION_SHARE))
    means = x[:cut].mean(axis=0)
    scales = x[:cut].std(axis=0)
    scales[scales < 1e-9] = 1.0  # a constant column carries no information
    z = (x - means) / scales
    base = LogisticRegression(C=1.0, max_iter=2000)
    base.fit(z[:cut], y[:cut])
    slope, offset = 1.0, 0.0
    if len(set(y[cut:].tolist())) == 2:
        scores = base.decision_function(z[cut:]).reshape(-1, 1)
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(scores, y[cut:])
        slope, offset = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return LogisticRetryModel(
        version=version,
        feature_names=FEATURE_NAMES,
        coefficients=tuple(float(c) for c in base.coef_[0]),
        intercept=float(base.intercept_[0]),
        means=tuple(float(m) for m in means),
        scales=tuple(float(s) for s in scales),
        calibration_slope=slope,
        calibration_intercept=offset,
    )


def model_version(model: LogisticRetryModel, now: datetime) -> str:
    digest = hashlib.sha256(json.dumps(model.to_parameters(), sort_keys=True).encode()).hexdigest()[:8]
    return f"retry-{now:%Y%m%d%H%M%S}-{digest}"


def train(
    rows: Iterable[RetryAttempt],
    *,
    now: datetime,
    dry_run: bool = False,
    current: RetryModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingReport:
    """Train on `rows`, judge new and current models on the later slice, store and promote only if better."""
    say = progress or (lambda message: None)
    examples = examples_from_attempts(rows)
    say(f"built features for {len(examples)} retries")
    training, held_out = time_split(examples)
    if not training or not held_out:
        raise TrainingError(f"{len(examples)} retries cannot be split into an earlier and a later slice")
    outcomes = np.array([e.succeeded for e in held_out], dtype=int)
    model = fit(training)
    say(f"fitted on {len(training)} retries; judging on {len(held_out)} later ones")
    current = current or current_model()
    new_metrics = evaluate(np.array([model.predict(e.features) for e in held_out]), outcomes)
    current_metrics = evaluate(np.array([current.predict(e.features) for e in held_out]), outcomes)
    # Trust grows with data and with skill on the later slice (dunning/README.md).
    skill = 0.0 if new_metrics.roc_auc is None else min(1.0, max(0.0, 2 * (new_metrics.roc_auc - 0.5)))
    confidence = round(0.95 * len(training) / (len(training) + 500) * skill, 3)
    model = LogisticRetryModel(**{**_fields(model), "confidence": confidence})
    model = LogisticRetryModel(**{**_fields(model), "version": model_version(model, now)})
    promoted, decision = _judge(new_metrics, current_metrics, current.version)
    stored = False
    if not dry_run:
        stored = _store(model, promoted, training, held_out, new_metrics, current_metrics, current.version)
    return TrainingReport(
        version=model.version,
        rows=len(examples),
        train_rows=len(training),
        held_out_rows=len(held_out),
        train_until=training[-1].at,
        held_out_from=held_out[0].at,
        new=new_metrics,
        current=current_metrics,
        current_version=current.version,
        promoted=promoted,
        decision=decision,
        stored=stored,
        model=model,
    )


def _fields(model: LogisticRetryModel) -> dict[str, Any]:
    return {
        "version": model.version,
        "feature_names": model.feature_names,
        "coefficients": model.coefficients,
        "intercept": model.intercept,
        "means": model.means,
        "scales": model.scales,
        "calibration_slope": model.calibration_slope,
        "calibration_intercept": model.calibration_intercept,
        "confidence": model.confidence,
    }


def _judge(new: Metrics, current: Metrics, current_version: str) -> tuple[bool, str]:
    if new.roc_auc is None or current.roc_auc is None:
        return False, "not promoted: the later slice holds one outcome only, so ROC-AUC cannot be compared"
    if new.roc_auc <= current.roc_auc:
        return False, f"not promoted: ROC-AUC {new.roc_auc:.4f} is not above {current_version}'s {current.roc_auc:.4f}"
    if new.brier > current.brier:
        return False, f"not promoted: Brier {new.brier:.4f} is worse than {current_version}'s {current.brier:.4f}"
    return (
        True,
        f"promoted: ROC-AUC {new.roc_auc:.4f} > {current.roc_auc:.4f} and Brier {new.brier:.4f} <= {current.brier:.4f}",
    )


def _store(
    model: LogisticRetryModel,
    promoted: bool,
    training: list[Example],
    held_out: list[Example],
    new: Metrics,
    current: Metrics,
    current_version: str,
) -> bool:
    """Record the version; if promoted, it becomes the only current one in the same transaction."""
    metrics = {
        "held_out": new.as_dict(),
        "current": current.as_dict(),
        "current_version": current_version,
        "held_out_from": held_out[0].at.isoformat(),
        "rule": PROMOTION_RULE,
    }
    with transaction.atomic():
        if RetryModelVersion.objects.filter(version=model.version).exists():
            return False
        if promoted:
            # Unset first: the unique constraint allows one current row at a time.
            RetryModelVersion.objects.select_for_update().filter(is_current=True).update(is_current=False)
        RetryModelVersion.objects.create(
            version=model.version,
            algorithm=ALGORITHM,
            parameters=model.to_parameters(),
            metrics=metrics,
            training_rows=len(training),
            trained_until=training[-1].at,
            is_current=promoted,
        )
    return True


def history_rows() -> Any:
    """Every recorded retry of every case, oldest first: what train() learns from."""
    return RetryAttempt.objects.filter(number__gte=1).select_related("case").order_by("attempted_at")
