"""Training the fraud model from the account's own assessments and labels, and promoting it only when better.

One row per paid (or authorized) booking: the features of its payment's
assessment, which the trained model scores. Bookings never paid are left
out: their card and Stripe features are absent, and "unpaid" would read as
"legitimate". A booking's label is its latest FraudLabel; one with no label
that was scored more than FRAUD_LABEL_MATURITY_DAYS ago counts as legitimate
(disputes and warnings arrive within weeks), a younger one is left out, and
so is one the model itself held or blocked that no person judged: its
outcome says nothing about the truth. Rows are split by time: the model is fitted on the earlier ones and
judged, with the current model and a logistic baseline, on the later ones.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction

from fraud.estimator import fraud_probability
from fraud.evaluation import Evaluation, compare_on_later_slice, evaluate, is_better, time_ordered_split
from fraud.features import FEATURE_NAMES, FraudFeatures
from fraud.models import Assessment, FraudHold, FraudLabel, FraudModelVersion, Stage
from fraud.risk_model import NEUTRAL, current_model, load_estimator, model_dir, sha256_of

logger = logging.getLogger(__name__)

ALGORITHM = "hist-gradient-boosting + calibration on the latest training rows (fraud/estimator.py)"
MIN_ROWS = 200
MIN_POSITIVES = 20


class NotEnoughLabels(ValueError):
    """Too few labelled bookings to train and judge a model: the current one (or the prior) stays."""


@dataclass(frozen=True)
class TrainingSet:
    X: np.ndarray
    y: np.ndarray
    times: np.ndarray  # epoch seconds, oldest first
    unlabelled_young: int


def training_set(*, now: datetime) -> TrainingSet:
    mature_before = now - timedelta(days=settings.FRAUD_LABEL_MATURITY_DAYS)
    labels: dict[str, bool] = dict(
        FraudLabel.objects.order_by("booking_code", "updated_at").values_list("booking_code", "is_fraud")
    )  # ordered, so each booking keeps its latest
    decided_by_model = set(FraudHold.objects.values_list("booking_code", flat=True))
    latest: dict[str, tuple[datetime, dict[str, float | None]]] = {}
    rows = (
        Assessment.objects.filter(stage=Stage.PAYMENT)
        .order_by("scored_at")
        .values_list("booking_code", "scored_at", "features")
    )
    for code, scored_at, features in rows.iterator(chunk_size=2000):
        latest[code] = (scored_at, features)
    X, y, times, young = [], [], [], 0
    for code, (scored_at, features) in latest.items():
        if code in labels:
            label = labels[code]
        elif code in decided_by_model:
            continue
        elif scored_at < mature_before:
            label = False
        else:
            young += 1
            continue
        X.append(FraudFeatures.from_dict(features).values)
        y.append(int(label))
        times.append(scored_at.timestamp())
    order = np.argsort(np.asarray(times, dtype=float), kind="stable")
    width = len(FEATURE_NAMES)
    return TrainingSet(
        X=np.asarray(X, dtype=float).reshape(-1, width)[order],
        y=np.asarray(y, dtype=int)[order],
        times=np.asarray(times, dtype=float)[order],
        unlabelled_young=young,
    )


@dataclass(frozen=True)
class TrainingOutcome:
    version: FraudModelVersion
    promoted: bool
    why: str
    evaluations: dict[str, Evaluation]


def _neutral(X: np.ndarray, y: np.ndarray) -> list[float]:
    """Each feature's median over legitimate training rows: the reference the reasons compare against."""
    legit = X[y == 0]
    with np.errstate(all="ignore"):
        medians = np.nanmedian(legit, axis=0) if len(legit) else np.full(X.shape[1], np.nan)
    return [float(m) if np.isfinite(m) else float(n) for m, n in zip(medians, NEUTRAL, strict=True)]


def train(*, now: datetime, test_share: float = 0.25, progress: Callable[[str], None] | None = None) -> TrainingOutcome:
    """Fit, judge on the later slice, store the new version, and promote it if it beats the current model there."""
    say = progress or (lambda _: None)
    data = training_set(now=now)
    say(f"{len(data.y)} labelled bookings ({int(data.y.sum())} fraud); {data.unlabelled_young} too recent to count")
    if len(data.y) < MIN_ROWS or data.y.sum() < MIN_POSITIVES:
        raise NotEnoughLabels(
            f"{len(data.y)} labelled bookings with {int(data.y.sum())} fraud: at least {MIN_ROWS} and "
            f"{MIN_POSITIVES} are needed; the current model stays"
        )
    comparison = compare_on_later_slice(data.X, data.y, data.times, test_share=test_share, progress=say)
    train_rows, test_rows = time_ordered_split(data.times, test_share=test_share)
    current = current_model()
    say(f"scoring the later slice with the current model, {current.version}")
    evaluations = {
        "candidate": comparison.evaluations["gbm"],
        "baseline (logistic)": comparison.evaluations["logistic"],
        f"current ({current.version})": evaluate(data.y[test_rows], current.probabilities(data.X[test_rows])),
    }
    promoted, why = is_better(evaluations["candidate"], evaluations[f"current ({current.version})"])
    candidate = evaluations["candidate"]
    confidence = float(np.clip((candidate.roc_auc - 0.5) * 2, 0, 1) * min(1.0, comparison.train_positives / 200))
    # The suffix keeps two trainings in one second (a retry, a test) from sharing a name.
    version = f"fraud-gbm-{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    path = model_dir() / f"{version}.skops"
    say(f"saving {path}")
    model = comparison.models["gbm"]
    _check_round_trip(model, data.X[test_rows][:5])
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    with transaction.atomic():
        row = FraudModelVersion.objects.create(
            version=version,
            algorithm=ALGORITHM,
            feature_names=list(FEATURE_NAMES),
            artefact=path.name,
            sha256=sha256_of(path),
            training_rows=len(train_rows),
            trained_until=datetime.fromtimestamp(comparison.train_until, tz=now.tzinfo),
            metrics={
                "evaluations": {name: e.to_dict() for name, e in evaluations.items()},
                "compared_with": current.version,
                "promotion": why,
                "confidence": confidence,
                "neutral": _neutral(data.X[train_rows], data.y[train_rows]),
                "test_rows": len(test_rows),
            },
        )
        if promoted:
            FraudModelVersion.objects.filter(is_current=True).update(is_current=False)
            row.is_current = True
            row.save(update_fields=["is_current"])
    logger.info("fraud model %s %s: %s", version, "promoted" if promoted else "kept aside", why)
    return TrainingOutcome(version=row, promoted=promoted, why=why, evaluations=evaluations)


def _check_round_trip(model: object, sample: np.ndarray) -> None:
    """The stored file must predict what the fitted model does, or it is not stored."""
    import tempfile
    from pathlib import Path

    import skops.io as sio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "check.skops"
        sio.dump(model, path)
        # Through the loader scoring uses, so a model it would refuse is never stored.
        loaded = load_estimator(path, sha256=sha256_of(path))
    if len(sample) and not np.allclose(fraud_probability(loaded, sample), fraud_probability(model, sample)):
        raise RuntimeError("the skops file does not reproduce the model's predictions")
