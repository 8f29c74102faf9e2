"""manage.py evaluate_fraud_model: train both model kinds on earlier rows of a labelled file, report on later ones."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fraud.estimator import TrainingDataError
from fraud.evaluation import PROMOTION_RULE, LaterSliceComparison, compare_on_later_slice, format_report, is_better
from fraud.external_data import MAPPINGS, ExternalDataError, MappedData


class Command(BaseCommand):
    help = (
        "Read a labelled fraud data set through a documented feature mapping (fraud/external_data.py), train the "
        "gbm and logistic models on the earlier rows by time and report ROC-AUC, average precision, precision and "
        "recall at 1/2/5% review rates, calibration and Brier score on the latest rows. Writes nothing.\n"
        "Example: manage.py evaluate_fraud_model --csv ../shared/data/ecommerce-fraud-sample.csv --mapping fraud-data"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", required=True, type=Path, help="the labelled data file")
        parser.add_argument(
            "--mapping", required=True, help=f"how to read it onto our features: {', '.join(sorted(MAPPINGS))}"
        )
        parser.add_argument(
            "--test-share", type=float, default=0.25, help="latest share of rows held out for the report (0.25)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["csv"]
        name: str = options["mapping"]
        test_share: float = options["test_share"]
        if name not in MAPPINGS:
            raise CommandError(f"unknown mapping {name!r}; known mappings: {', '.join(sorted(MAPPINGS))}")
        if not 0 < test_share < 1:
            raise CommandError(f"--test-share must lie strictly between 0 and 1, got {test_share}")
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        data = self.read(path, name)
        try:
            comparison = compare_on_later_slice(
                data.X, data.y, data.times, test_share=test_share, progress=self.stderr.write
            )
        except (TrainingDataError, ValueError) as exc:
            raise CommandError(f"cannot evaluate on {path}: {exc}") from exc
        self.write_report(data, comparison)

    def read(self, path: Path, name: str) -> MappedData:
        self.stderr.write(f"reading {path} through mapping {name}")
        try:
            data = MAPPINGS[name].read(path)
        except ExternalDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"read {len(data.y)} rows, {int(data.y.sum())} fraud, features: {', '.join(data.feature_names)}"
        )
        return data

    def write_report(self, data: MappedData, comparison: LaterSliceComparison) -> None:
        out = self.stdout.write
        test = next(iter(comparison.evaluations.values()))
        out(
            f"earlier slice (fit and calibrate): {comparison.train_rows} rows, {comparison.train_positives} fraud, "
            f"{_when(comparison.train_from)} to {_when(comparison.train_until)}"
        )
        out(
            f"later slice (evaluate): {test.rows} rows, {test.positives} fraud, "
            f"{_when(comparison.test_from)} to {_when(comparison.test_until)}"
        )
        for kind, fitted in comparison.fitted_on.items():
            out(
                f"{kind}: fitted on the first {fitted.fit_rows} of them, {fitted.calibration} calibration on the "
                f"latest {fitted.calibration_rows} ({fitted.calibration_positives} fraud)"
            )
        out("")
        out(format_report(comparison.evaluations))
        if {"gbm", "logistic"} <= comparison.evaluations.keys():
            better, reason = is_better(comparison.evaluations["gbm"], comparison.evaluations["logistic"])
            out("")
            verdict = "better" if better else "not better"
            out(f"gbm against the logistic baseline ({PROMOTION_RULE}): {verdict}: {reason}")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M")
