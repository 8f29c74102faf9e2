"""manage.py train_retry_model: fit the retry model on our history; promote it only if it beats the current one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from dunning.retry_training import PROMOTION_RULE, Metrics, TrainingError, TrainingReport, history_rows, train


class Command(BaseCommand):
    help = (
        "Train the retry-success model on recorded retries (earliest 80 % by time), compare it with the current "
        f"model on the latest 20 %, and {PROMOTION_RULE}.\n"
        "Example: manage.py train_retry_model --min-rows 500 --dry-run"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--min-rows", type=int, default=200, help="retries needed to train (default 200)")
        parser.add_argument("--dry-run", action="store_true", help="train and report; store nothing")
        parser.add_argument(
            "--force-promote", action="store_true", help="refused: a model is promoted only when it is better"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["force_promote"]:
            raise CommandError(f"--force-promote is not allowed: {PROMOTION_RULE}")
        if options["min_rows"] < 10:
            raise CommandError("--min-rows must be at least 10")
        rows = history_rows()
        count = rows.count()
        if count < options["min_rows"]:
            raise CommandError(f"not enough history ({count} rows, need {options['min_rows']}); the prior stays in use")
        self.stdout.write(f"training on {count} recorded retries")
        try:
            report = train(rows, now=timezone.now(), dry_run=options["dry_run"], progress=self.stdout.write)
        except TrainingError as exc:
            raise CommandError(f"{exc}; the current model stays in use") from exc
        self.write_report(report, dry_run=options["dry_run"])

    def write_report(self, report: TrainingReport, *, dry_run: bool) -> None:
        out = self.stdout.write
        out(
            f"train slice: {report.train_rows} retries up to {report.train_until:%Y-%m-%d %H:%M} UTC; "
            f"held out: {report.held_out_rows} later retries from {report.held_out_from:%Y-%m-%d %H:%M} UTC"
        )
        new_name, current_name = f"new {report.version}", f"current {report.current_version}"
        width = max(len(new_name), len(current_name)) + 2
        out(f"{'metric':<14}{new_name:>{width}}{current_name:>{width}}")
        for label, key in (("ROC-AUC", "roc_auc"), ("Brier score", "brier"), ("log loss", "log_loss")):
            out(f"{label:<14}{_fmt(report.new, key):>{width}}{_fmt(report.current, key):>{width}}")
        out("calibration on the held-out slice (deciles of the new model's prediction):")
        out(f"{'decile':<8}{'rows':>6}{'predicted':>11}{'observed':>10}")
        for row in report.new.calibration:
            out(f"{row['decile']:<8}{row['rows']:>6}{row['predicted']:>11.3f}{row['observed']:>10.3f}")
        if dry_run:
            verdict = "would be promoted" if report.promoted else "would not be promoted"
            out(f"dry run: {verdict} ({report.decision}); nothing stored")
        elif report.promoted and report.stored:
            out(self.style.SUCCESS(f"promoted: {report.version} is now the current model ({report.decision})"))
        else:
            stored = "stored, not current" if report.stored else "already stored"
            out(f"{report.decision}; {report.version} {stored}; {report.current_version} stays current")


def _fmt(metrics: Metrics, key: str) -> str:
    value = getattr(metrics, key)
    return "n/a" if value is None else f"{value:.4f}"
