"""Replaying recorded failures under the planner and under a fixed retry schedule, to compare what each recovers.

The counterfactual: whether a retry at time t would have succeeded is read
from what the case itself recorded (see outcome_at); nothing is simulated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dunning.decline_codes import DeclineVerdict, classify_decline
from dunning.models import RecoveryCase, RecoveryStatus, RetryAttempt
from dunning.network_rules import PastAttempt, RetryLimits, retry_blockers
from dunning.planner import ESCALATE, REQUEST_CARD_UPDATE, RETRY, RecoveryContext, plan_recovery
from dunning.retry_features import RetryFeatures
from dunning.retry_model import RetryModel

# A recorded attempt this close to a replayed retry stands in for it.
MATCH_WINDOW = timedelta(hours=12)
MAX_STEPS = 20  # a replay that plans more steps than this is stopped (a planner bug, not a case)


@dataclass
class PolicyResult:
    name: str
    cases: int = 0
    recovered_cases: int = 0
    recovered_minor: Counter[str] = field(default_factory=Counter)
    at_risk_minor: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    violations: int = 0
    card_update_requests: int = 0
    escalations: int = 0
    # Retries with no recorded attempt near them: counted as failed (see README).
    unobserved: int = 0

    @property
    def recovery_rate(self) -> float:
        return self.recovered_cases / self.cases if self.cases else 0.0

    @property
    def attempts_per_recovery(self) -> float | None:
        return self.retries / self.recovered_cases if self.recovered_cases else None


@dataclass(frozen=True)
class ReplayCase:
    case: RecoveryCase
    attempts: tuple[RetryAttempt, ...]  # as recorded, number 0 first
    verdict: DeclineVerdict

    @property
    def first(self) -> RetryAttempt:
        return self.attempts[0]

    @property
    def recorded_success(self) -> RetryAttempt | None:
        return next((a for a in self.attempts if a.succeeded), None)

    @property
    def paid_after_card_update(self) -> bool:
        """Recovered with no successful retry recorded: the customer paid another way."""
        return self.case.status == RecoveryStatus.RECOVERED and self.recorded_success is None


def load_cases(*, since: datetime | None, until: datetime | None, currency: str = "") -> list[ReplayCase]:
    """Cases whose first failure falls in [since, until), with their attempts; cases without attempts are skipped."""
    query = RecoveryCase.objects.prefetch_related("attempts").order_by("first_failed_at")
    if since:
        query = query.filter(first_failed_at__gte=since)
    if until:
        query = query.filter(first_failed_at__lt=until)
    if currency:
        query = query.filter(currency=currency.lower())
    replay = []
    for case in query:
        attempts = tuple(sorted(case.attempts.all(), key=lambda a: a.number))
        if not attempts or attempts[0].number != 0:
            continue
        first = attempts[0]
        verdict = classify_decline(
            code="card_declined",
            decline_code=first.decline_code or case.last_decline_code,
            advice_code=first.advice_code,
            network_advice_code=first.network_advice_code,
            card_brand=case.card_brand,
            card_funding=case.card_funding,
            card_country=case.card_country,
        )
        replay.append(ReplayCase(case, attempts, verdict))
    return replay


def outcome_at(replay: ReplayCase, at: datetime) -> bool | None:
    """Would a retry at `at` have succeeded? True/False from the record, None when nothing recorded is near.

    1. the card accepted this charge at or before `at` -> it would have by `at` too;
    2. a recorded attempt within MATCH_WINDOW of `at` -> its outcome;
    3. otherwise unknown (the caller counts it as failed and as unobserved).
    """
    success = replay.recorded_success
    if success is not None and success.attempted_at <= at:
        return True
    nearest = min(replay.attempts, key=lambda a: abs(a.attempted_at - at))
    if abs(nearest.attempted_at - at) <= MATCH_WINDOW:
        return nearest.succeeded
    return None


def _past(replay: ReplayCase, at: datetime) -> PastAttempt:
    case = replay.case
    return PastAttempt(at, case.card_fingerprint, case.amount_minor, case.currency, "merchant", False)


def _history(replay: ReplayCase) -> dict[str, Any]:
    """The customer history the planner recorded on this case's first retry, if any."""
    for attempt in replay.attempts[1:]:
        try:
            recorded = RetryFeatures.from_dict(attempt.features)
        except (TypeError, KeyError):
            continue
        return {
            "lifetime_value_minor": recorded.lifetime_value_minor,
            "past_failures": recorded.past_failures,
            "past_recoveries": recorded.past_recoveries,
            "past_chargebacks": recorded.past_chargebacks,
        }
    return {}


def _violates(
    replay: ReplayCase, at: datetime, attempts: Sequence[PastAttempt], retries: int, limits: RetryLimits
) -> bool:
    case = replay.case
    return bool(
        retry_blockers(
            at=at,
            verdict=replay.verdict,
            card_brand=case.card_brand,
            card_fingerprint=case.card_fingerprint,
            amount_minor=case.amount_minor,
            currency=case.currency,
            attempts=attempts,
            retries_so_far=retries,
            service_start_at=case.service_start_at,
            limits=limits,
        )
    )


def _retry(result: PolicyResult, replay: ReplayCase, at: datetime) -> bool:
    result.retries += 1
    outcome = outcome_at(replay, at)
    if outcome is None:
        result.unobserved += 1
    return bool(outcome)


def _recovered(result: PolicyResult, replay: ReplayCase) -> None:
    result.recovered_cases += 1
    result.recovered_minor[replay.case.currency] += replay.case.amount_minor


def replay_planner(replay: ReplayCase, result: PolicyResult, *, model: RetryModel, limits: RetryLimits) -> None:
    """Plan, act on the plan as recorded outcomes allow, plan again; one case."""
    case = replay.case
    attempts = [_past(replay, replay.first.attempted_at)]
    now, retries, history = replay.first.attempted_at, 0, _history(replay)
    for _ in range(MAX_STEPS):
        context = RecoveryContext(
            amount_minor=case.amount_minor,
            currency=case.currency,
            verdict=replay.verdict,
            card_brand=case.card_brand,
            card_funding=case.card_funding,
            card_country=case.card_country,
            card_fingerprint=case.card_fingerprint,
            first_failed_at=replay.first.attempted_at,
            last_attempt_at=attempts[-1].at,
            retries_so_far=retries,
            attempts=attempts,
            service_start_at=case.service_start_at,
            has_past_chargeback=history.get("past_chargebacks", 0) > 0,
            **history,
        )
        plan = plan_recovery(context, now=now, model=model, limits=limits)
        if plan.action == RETRY and plan.retry_at is not None:
            result.violations += _violates(replay, plan.retry_at, attempts, retries, limits)
            if _retry(result, replay, plan.retry_at):
                _recovered(result, replay)
                return
            attempts.append(_past(replay, plan.retry_at))
            now, retries = plan.retry_at, retries + 1
            continue
        if plan.action == REQUEST_CARD_UPDATE:
            result.card_update_requests += 1
            if replay.paid_after_card_update:
                _recovered(result, replay)
        elif plan.action == ESCALATE:
            result.escalations += 1
        return


def replay_fixed_schedule(
    replay: ReplayCase, result: PolicyResult, *, days: Sequence[int], limits: RetryLimits
) -> None:
    """Retry at each day after the first failure, whatever the decline, until the activity starts.

    A fixed schedule knows no rules: each retry a rule refuses is still made and
    counted as a violation. After the last retry, a card-update request.
    """
    case = replay.case
    first_at = replay.first.attempted_at
    attempts = [_past(replay, first_at)]
    for retries, day in enumerate(days):
        at = first_at + timedelta(days=day)
        if case.service_start_at is not None and at >= case.service_start_at:
            break
        result.violations += _violates(replay, at, attempts, retries, limits)
        if _retry(result, replay, at):
            _recovered(result, replay)
            return
        attempts.append(_past(replay, at))
    result.card_update_requests += 1
    if replay.paid_after_card_update:
        _recovered(result, replay)


def run_backtest(
    cases: Sequence[ReplayCase],
    *,
    model: RetryModel,
    limits: RetryLimits,
    baseline_days: Sequence[int],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[PolicyResult, PolicyResult]:
    """Both policies over the same cases: (planner, fixed schedule)."""
    planner = PolicyResult(f"planner ({model.version})")
    fixed = PolicyResult(f"fixed {','.join(str(d) for d in baseline_days)} d")
    for index, replay in enumerate(cases, start=1):
        for result in (planner, fixed):
            result.cases += 1
            result.at_risk_minor[replay.case.currency] += replay.case.amount_minor
        replay_planner(replay, planner, model=model, limits=limits)
        replay_fixed_schedule(replay, fixed, days=baseline_days, limits=limits)
        if progress and (index % 100 == 0 or index == len(cases)):
            progress(index, len(cases))
    return planner, fixed
