"""train_fraud_model: time-ordered, judged on the later slice, promoted only when better, stored safely."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fraud import synthetic_history
from fraud.features import FEATURE_NAMES
from fraud.models import Assessment, FraudLabel, FraudModelVersion
from fraud.risk_model import PRIOR_VERSION, RulesPrior, current_model
from fraud.training import training_set

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def model_dir(settings: Any, tmp_path: Path) -> Path:
    settings.FRAUD_MODEL_DIR = tmp_path / "models"
    return settings.FRAUD_MODEL_DIR


def seeded(bookings: int = 8000, seed: int = 3) -> None:
    synthetic_history.generate(bookings=bookings, end=timezone.now() - timedelta(days=61), seed=seed)


def train(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("train_fraud_model", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_without_labels_the_prior_stays_and_the_command_says_why() -> None:
    with pytest.raises(CommandError, match="at least 200 and 20 are needed"):
        train()
    assert isinstance(current_model(), RulesPrior)


def test_a_bad_test_share_is_refused() -> None:
    with pytest.raises(CommandError, match=r"between 0\.05 and 0\.5"):
        train("--test-share", "0.9")


def test_the_first_model_beating_the_prior_is_promoted_and_used(model_dir: Path) -> None:
    seeded()
    report = train()
    assert "ROC-AUC" in report and "at 5% review" in report and "calibration of candidate" in report
    assert "promoted" in report
    version = FraudModelVersion.objects.get(is_current=True)
    evaluations = version.metrics["evaluations"]
    assert evaluations["candidate"]["roc_auc"] > evaluations[f"current ({PRIOR_VERSION})"]["roc_auc"]
    assert set(evaluations) == {"candidate", "baseline (logistic)", f"current ({PRIOR_VERSION})"}
    model = current_model()
    assert model.version == version.version and model.confidence == version.metrics["confidence"] > 0
    assert (model_dir / version.artefact).exists()


def test_a_model_that_is_not_better_is_stored_but_not_promoted() -> None:
    seeded()
    train()
    first = FraudModelVersion.objects.get(is_current=True)
    report = train()  # the same data: not better than itself
    assert "stored, not promoted" in report
    assert FraudModelVersion.objects.get(is_current=True) == first
    assert FraudModelVersion.objects.count() == 2


def test_an_altered_model_file_is_not_loaded(model_dir: Path) -> None:
    seeded()
    train()
    version = FraudModelVersion.objects.get(is_current=True)
    path = model_dir / version.artefact
    path.write_bytes(path.read_bytes() + b"x")
    from fraud import risk_model

    risk_model._cache.clear()
    assert current_model().version == PRIOR_VERSION
    risk_model._refused.clear()


def test_the_stored_model_holds_no_personal_data(model_dir: Path) -> None:
    seeded()
    train()
    version = FraudModelVersion.objects.get(is_current=True)
    with zipfile.ZipFile(model_dir / version.artefact) as stored:
        schema = stored.read("schema.json").decode()
        arrays = [stored.read(name) for name in stored.namelist() if name.endswith(".npy")]
    # The structure names scikit-learn's classes and their settings, nothing about a booking or a person.
    for marker in ("SYN-", "mailinator", "booking_code", "email", "@"):
        assert marker not in schema
    # Every array is numbers: no text (dtype U or S) or objects (O) could hide an identifier.
    for blob in arrays:
        header = blob[: blob.index(b"\n")].decode("latin-1")
        kinds = set(re.findall(r"'[<>|=]([a-zA-Z])\d*'", header))
        assert kinds and kinds <= set("fiub"), header
    assert version.feature_names == list(FEATURE_NAMES)


def test_young_unlabelled_bookings_are_left_out_and_old_ones_count_as_legitimate() -> None:
    now = timezone.now()
    features = dict.fromkeys(FEATURE_NAMES, 1.0)
    for code, age, label in (("OLD", 90, None), ("YOUNG", 5, None), ("FRAUD", 5, True)):
        Assessment.objects.create(
            booking_code=code,
            stage="payment",
            score=1,
            probability=0.01,
            band="low",
            confidence=0.3,
            model_version="t",
            features=features,
            scored_at=now - timedelta(days=age),
        )
        if label is not None:
            FraudLabel.objects.create(booking_code=code, is_fraud=label, source="dispute", source_id=f"dp_{code}")
    rows = training_set(now=now)
    assert rows.y.tolist() == [0, 1] and rows.unlabelled_young == 1
    assert rows.X.shape == (2, len(FEATURE_NAMES)) and np.all(rows.X == 1.0)


def test_a_later_label_replaces_an_earlier_one() -> None:
    now = timezone.now()
    Assessment.objects.create(
        booking_code="B1",
        stage="payment",
        score=1,
        probability=0.01,
        band="low",
        confidence=0.3,
        model_version="t",
        features={},
        scored_at=now - timedelta(days=90),
    )
    FraudLabel.objects.create(booking_code="B1", is_fraud=True, source="dispute", source_id="dp_1")
    FraudLabel.objects.create(booking_code="B1", is_fraud=False, source="review", source_id="dec_1")
    assert training_set(now=now).y.tolist() == [0]
