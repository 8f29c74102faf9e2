"""manage.py backtest_dunning: replay recorded failures under the planner and a fixed schedule, side by side."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dunning.backtest import PolicyResult, load_cases, run_backtest
from dunning.models import RetryModelVersion
from dunning.recovery import limits_from_settings
from dunning.retry_model import current_model
from payops.command_args import iso_datetime
from payops.money import from_minor

LABEL = 24
COLUMN = 26


def baseline_days(value: str) -> list[int]:
    try:
        days = [int(part) for part in value.split(",") if part.strip()]
    except ValueError as exc:
        raise CommandError(
            f"--baseline-days takes whole days separated by commas, like 1,3,5,7; not {value!r}"
        ) from exc
    if not days or any(day <= 0 for day in days) or days != sorted(set(days)):
        raise CommandError(f"--baseline-days must be rising positive days, like 1,3,5,7; not {value!r}")
    return days


class Command(BaseCommand):
    help = (
        "Replay recorded failed payments under (a) the planner with the current model and the hard limits and "
        "(b) a fixed retry schedule, and print cases, recovered amounts, recovery rate, attempts per recovery, "
        "rule violations, card-update requests and escalations side by side. Outcomes come from each case's "
        "own recorded attempts (dunning/README.md explains the method and its limits).\n"
        "Example: manage.py backtest_dunning --since 2026-06-01 --until 2026-11-01 --baseline-days 1,3,5,7"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=iso_datetime, help="first failures at or after this time")
        parser.add_argument("--until", type=iso_datetime, help="first failures before this time")
        parser.add_argument("--baseline-days", default="1,3,5,7", help="the fixed schedule (default 1,3,5,7)")
        parser.add_argument("--currency", default="", help="only cases in this currency, e.g. eur")

    def handle(self, *args: Any, **options: Any) -> None:
        days = baseline_days(options["baseline_days"])
        currency = options["currency"].strip().lower()
        if currency and not re.fullmatch(r"[a-z]{3}", currency):
            raise CommandError(f"--currency takes a three-letter ISO code, not {options['currency']!r}")
        since, until = options["since"], options["until"]
        if since and until and since >= until:
            raise CommandError("--since must be before --until")
        cases = load_cases(since=since, until=until, currency=currency)
        if not cases:
            raise CommandError("nothing to replay: no recorded failures match these options")
        model = current_model()
        self.stdout.write(f"replaying {len(cases)} cases with {model.version} and the fixed schedule {days} days")
        self.warn_if_in_sample(model.version, cases[-1].first.attempted_at)
        planner, fixed = run_backtest(
            cases,
            model=model,
            limits=limits_from_settings(),
            baseline_days=days,
            progress=lambda done, total: self.stdout.write(f"  {done}/{total} cases"),
        )
        self.write_table(planner, fixed)

    def warn_if_in_sample(self, version: str, latest: Any) -> None:
        trained = RetryModelVersion.objects.filter(version=version).values_list("trained_until", flat=True).first()
        if trained is not None and trained >= latest:
            self.stdout.write(
                self.style.WARNING(f"note: {version} was trained on some of these cases; its figures are optimistic")
            )

    def write_table(self, planner: PolicyResult, fixed: PolicyResult) -> None:
        rows: list[tuple[str, str, str]] = [
            ("", planner.name, fixed.name),
            ("cases", str(planner.cases), str(fixed.cases)),
        ]
        for currency in sorted(set(planner.at_risk_minor) | set(fixed.at_risk_minor)):
            rows.append(
                (
                    f"recovered {currency} (of at risk)",
                    _money(planner, currency),
                    _money(fixed, currency),
                )
            )
        rows += [
            ("recovery rate", f"{planner.recovery_rate:.1%}", f"{fixed.recovery_rate:.1%}"),
            ("attempts per recovery", _ratio(planner.attempts_per_recovery), _ratio(fixed.attempts_per_recovery)),
            ("rule violations", str(planner.violations), str(fixed.violations)),
            ("card-update requests", str(planner.card_update_requests), str(fixed.card_update_requests)),
            ("escalations", str(planner.escalations), str(fixed.escalations)),
            ("unobserved retries", str(planner.unobserved), str(fixed.unobserved)),
        ]
        for label, left, right in rows:
            self.stdout.write(f"{label:<{LABEL}}{left:>{COLUMN}}{right:>{COLUMN}}")
        self.stdout.write(
            "recovery rate: cases recovered / cases; unobserved retries had no recorded attempt within 12 h "
            "and count as failed"
        )


def _money(result: PolicyResult, currency: str) -> str:
    recovered = result.recovered_minor[currency]
    return f"{from_minor(recovered, currency)} / {from_minor(result.at_risk_minor[currency], currency)}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
