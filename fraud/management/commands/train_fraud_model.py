"""manage.py train_fraud_model: fit on the earlier labelled bookings, judge on the later ones, promote if better."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from fraud.estimator import TrainingDataError
from fraud.evaluation import format_report
from fraud.training import NotEnoughLabels, train


class Command(BaseCommand):
    help = (
        "Train a fraud model on this account's assessed and labelled bookings (time-ordered split), report "
        "ROC-AUC, precision and recall at 1/2/5% review rates and the calibration, and promote it only if it "
        "beats the current model on the later slice.\n"
        "Example: manage.py train_fraud_model --test-share 0.2"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--test-share", type=float, default=0.25, help="the latest share of bookings held out (0.05-0.5)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        share = options["test_share"]
        if not 0.05 <= share <= 0.5:
            raise CommandError(f"--test-share must be between 0.05 and 0.5, not {share}")
        try:
            outcome = train(now=timezone.now(), test_share=share, progress=lambda line: self.stderr.write(line))
        except (NotEnoughLabels, TrainingDataError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_report(outcome.evaluations))
        self.stdout.write("")
        verdict = "promoted: it scores new bookings from now on" if outcome.promoted else "stored, not promoted"
        self.stdout.write(f"{outcome.version.version}: {verdict} ({outcome.why})")
