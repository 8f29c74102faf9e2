"""manage.py evaluate_fraud_model: reads through a mapping, trains both kinds on earlier rows, reports on later ones."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

HEADER = "user_id,signup_time,purchase_time,purchase_value,device_id,source,browser,sex,age,class"


def stamp(moment: datetime) -> str:
    return f"{moment.month}/{moment.day}/{moment:%y} {moment.hour}:{moment:%M}"


@pytest.fixture
def fraud_csv(tmp_path: Path) -> Path:
    """1,600 purchases over 2015, about 10 % fraud, most of it bought within minutes of signing up."""
    rng = random.Random(5)
    start = datetime(2015, 1, 1)
    lines = [HEADER]
    for i in range(1600):
        purchased = start + timedelta(minutes=rng.randrange(0, 360 * 24 * 60))
        fraud = rng.random() < 0.1
        quick = rng.random() < (0.7 if fraud else 0.05)
        age = timedelta(minutes=rng.randrange(1, 30)) if quick else timedelta(hours=rng.randrange(2, 2000))
        lines.append(
            f"{i},{stamp(purchased - age)},{stamp(purchased)},{rng.randrange(9, 150)},D{rng.randrange(1200)},"
            f"SEO,Chrome,M,30,{int(fraud)}"
        )
    path = tmp_path / "fraud.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("evaluate_fraud_model", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_reports_both_models_on_the_later_slice_and_writes_nothing(
    fraud_csv: Path, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        out, err = run("--csv", str(fraud_csv), "--mapping", "fraud-data")
    lines = out.splitlines()
    assert lines[1].startswith("later slice (evaluate): 400 rows")
    assert "earlier slice (fit and calibrate): 1200 rows" in lines[0]
    header = next(line for line in lines if line.startswith("metric")).split()
    assert header == ["metric", "gbm", "logistic"]
    auc = next(line for line in lines if line.startswith("ROC-AUC")).split()
    assert float(auc[1]) > 0.75 and float(auc[2]) > 0.75
    for label in ("average precision", "Brier score", "at 1% review", "at 2% review", "at 5% review (20 rows)"):
        assert label in out
    assert "calibration of gbm" in out and "calibration of logistic" in out
    assert "gbm against the logistic baseline" in lines[-1]
    assert "reading" in err and "fitting gbm on 1200 earlier rows" in err and "scoring logistic" in err


def test_test_share_sets_the_later_slice(fraud_csv: Path) -> None:
    out, _ = run("--csv", str(fraud_csv), "--mapping", "fraud-data", "--test-share", "0.5")
    assert out.splitlines()[1].startswith("later slice (evaluate): 800 rows")


def test_missing_file_exits_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"no such file: .*missing\.csv"):
        run("--csv", str(tmp_path / "missing.csv"), "--mapping", "fraud-data")


def test_unknown_mapping_lists_the_known_ones(fraud_csv: Path) -> None:
    with pytest.raises(CommandError, match="unknown mapping 'kaggle'; known mappings: fraud-data"):
        run("--csv", str(fraud_csv), "--mapping", "kaggle")


@pytest.mark.parametrize("share", ["0", "1", "1.5", "-0.2"])
def test_test_share_out_of_range_exits_with_a_message(fraud_csv: Path, share: str) -> None:
    with pytest.raises(CommandError, match="--test-share must lie strictly between 0 and 1"):
        run("--csv", str(fraud_csv), "--mapping", "fraud-data", "--test-share", share)


def test_a_file_without_the_mappings_columns_exits_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,amount,label\n1,10,0\n")
    with pytest.raises(CommandError, match="missing column"):
        run("--csv", str(path), "--mapping", "fraud-data")


def test_too_little_fraud_to_train_exits_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    rows = [
        f"{i},1/1/15 0:00,1/{1 + i // 100}/15 {i % 24}:00,10,D{i},SEO,Chrome,M,30,{int(i % 50 == 0)}"
        for i in range(300)
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    with pytest.raises(CommandError, match=r"cannot evaluate on .*each class needs at least 40"):
        run("--csv", str(path), "--mapping", "fraud-data")
