"""The recovery planner: which action and when, by expected recovered money, inside limits no model overrides."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from dunning.decline_codes import CUSTOMER, HARD, SOFT, DeclineVerdict
from dunning.network_rules import PastAttempt, RetryLimits, retry_blockers
from dunning.retry_features import RetryFeatures, display_zone
from dunning.retry_model import RetryModel

RETRY = "retry"
REQUEST_CARD_UPDATE = "request_card_update"
ESCALATE = "escalate"
GIVE_UP = "give_up"

# How often a card-update request ends in payment, by class, before any data of
# our own: savemrr.co (2026) puts card-update recovery of expired cards at 50-60 %
# and of wrong numbers at 35-45 %, lost/stolen at 20-30 %. A soft decline's
# customer has a working card, so asking them to change it is a weak lever.
CARD_UPDATE_PRIOR = {SOFT: 0.15, CUSTOMER: 0.40, HARD: 0.25}
# A retry far off is worth less: the booking stays held and the customer may go.
WAIT_DISCOUNT_PER_DAY = 0.02
# Retries run in local daytime; anything outside is moved to MORNING.
MORNING = time(9, 0)
DAY_START, DAY_END = 8, 20
# When the rules leave a single choice, the choice is as sure as the facts given.
RULE_CONFIDENCE = 0.9


@dataclass(frozen=True)
class RecoveryContext:
    amount_minor: int
    currency: str
    verdict: DeclineVerdict
    card_brand: str
    card_funding: str
    card_country: str
    card_fingerprint: str
    first_failed_at: datetime
    last_attempt_at: datetime
    retries_so_far: int
    # Every attempt on this card fingerprint, across bookings, the last decline included.
    attempts: Sequence[PastAttempt]
    service_start_at: datetime | None
    lifetime_value_minor: int = 0
    past_failures: int = 0
    past_recoveries: int = 0
    past_chargebacks: int = 0
    has_past_chargeback: bool = False
    # The booking is held until then: no retry is planned after it, and the
    # customer may pay with another card until it (None: no hold).
    hold_until: datetime | None = None
    # A card saved on the customer can be charged again off-session; one that
    # failed on the pay page was never saved, and only the customer can pay.
    card_saved: bool = True


@dataclass(frozen=True)
class Alternative:
    action: str
    at: datetime | None
    probability: float
    expected_recovered_minor: int
    refused_by: tuple[str, ...] = ()
    note: str = ""

    def as_params(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "at": self.at.isoformat() if self.at else None,
            "probability": round(self.probability, 4),
            "expected_recovered_minor": self.expected_recovered_minor,
            "refused_by": list(self.refused_by),
            "note": self.note,
        }


@dataclass(frozen=True)
class RecoveryPlan:
    action: str
    retry_at: datetime | None
    probability: float
    expected_recovered_minor: int
    confidence: float
    # 0-100 risk for the gate: 100 x (1 - probability); a give-up or escalation is 100.
    score: float
    model_version: str
    reasons: tuple[str, ...]
    alternatives: tuple[Alternative, ...] = field(default_factory=tuple)
    blocked_by: tuple[str, ...] = ()

    def as_params(self) -> dict[str, Any]:
        """The plan as JSON for the Decision's params."""
        return {
            "action": self.action,
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "probability": round(self.probability, 4),
            "expected_recovered_minor": self.expected_recovered_minor,
            "confidence": round(self.confidence, 3),
            "score": round(self.score, 1),
            "model_version": self.model_version,
            "reasons": list(self.reasons),
            "alternatives": [alternative.as_params() for alternative in self.alternatives],
            "blocked_by": list(self.blocked_by),
        }


def snap_to_daytime(at: datetime) -> datetime:
    """Move a time outside local 08:00-20:00 to the next local 09:00 (UTC out)."""
    zone = display_zone()
    local = at.astimezone(zone)
    if DAY_START <= local.hour < DAY_END:
        return at
    day = local.date() if local.hour < DAY_START else local.date() + timedelta(days=1)
    return datetime.combine(day, MORNING, tzinfo=zone).astimezone(at.tzinfo)


def _next_paydays(local_now: datetime) -> list[datetime]:
    """The next 1st, 15th and month end at 09:00 local, this month and next."""
    zone = local_now.tzinfo
    days: list[datetime] = []
    year, month = local_now.year, local_now.month
    for _ in range(2):
        last = calendar.monthrange(year, month)[1]
        days += [datetime(year, month, day, MORNING.hour, tzinfo=zone) for day in (1, 15, last)]
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [day for day in days if day > local_now]


def candidate_times(context: RecoveryContext, now: datetime) -> list[tuple[datetime, str]]:
    """Retry times worth pricing, each with why it is on the list, snapped to local daytime, earliest first."""
    local_now = now.astimezone(display_zone())
    raw: list[tuple[datetime, str]] = [
        (now + timedelta(hours=4), "in 4 hours"),
        (now + timedelta(hours=12), "in 12 hours"),
        (now + timedelta(days=1), "in a day"),
        (now + timedelta(days=2), "in 2 days"),
        (now + timedelta(days=3), "in 3 days"),
        (datetime.combine(local_now.date() + timedelta(days=1), MORNING, tzinfo=local_now.tzinfo), "next morning"),
    ]
    raw += [(payday, f"on the payday {payday:%d %b}") for payday in _next_paydays(local_now)[:2]]
    if context.verdict.retry_not_before is not None:
        raw.append((context.last_attempt_at + context.verdict.retry_not_before, "when the network advised"))
    seen: dict[datetime, str] = {}
    for at, why in sorted(raw, key=lambda item: item[0]):
        snapped = snap_to_daytime(at).astimezone(now.tzinfo)
        if snapped > now:
            seen.setdefault(snapped, why)
    return sorted(seen.items())


def retry_features(context: RecoveryContext, at: datetime) -> RetryFeatures:
    """What the model sees for a retry at `at` (the planner's, and what the workflow stores for training)."""
    return RetryFeatures.at_time(
        at=at,
        first_failed_at=context.first_failed_at,
        last_attempt_at=context.last_attempt_at,
        decline_class=context.verdict.decline_class,
        decline_code=context.verdict.code,
        attempts_so_far=context.retries_so_far,
        amount_minor=context.amount_minor,
        currency=context.currency,
        card_brand=context.card_brand,
        card_funding=context.card_funding,
        card_country=context.card_country,
        lifetime_value_minor=context.lifetime_value_minor,
        past_failures=context.past_failures,
        past_recoveries=context.past_recoveries,
        past_chargebacks=context.past_chargebacks,
    )


def plan_recovery(context: RecoveryContext, *, now: datetime, model: RetryModel, limits: RetryLimits) -> RecoveryPlan:
    """Price every allowed action and choose the best; a retry any rule refuses is never chosen."""
    amount = context.amount_minor
    deadline = context.service_start_at - limits.service_margin if context.service_start_at else None
    time_left = (deadline - now) if deadline is not None else None

    retries: list[tuple[Alternative, RetryFeatures, str]] = []
    for at, why in candidate_times(context, now):
        features = retry_features(context, at)
        probability = model.predict(features)
        days = max(0.0, (at - now).total_seconds() / 86400)
        value = probability * amount * (1 - WAIT_DISCOUNT_PER_DAY) ** days - limits.attempt_cost_minor
        refused = retry_blockers(
            at=at,
            verdict=context.verdict,
            card_brand=context.card_brand,
            card_fingerprint=context.card_fingerprint,
            amount_minor=amount,
            currency=context.currency,
            attempts=context.attempts,
            retries_so_far=context.retries_so_far,
            service_start_at=context.service_start_at,
            limits=limits,
        )
        if context.hold_until is not None and at >= context.hold_until:
            refused.append(f"after the hold on the booking ends ({context.hold_until:%a %d %b %H:%M} UTC)")
        if not context.card_saved:
            refused.append("the card is not saved on the customer: Stripe refuses to charge it again")
        retries.append((Alternative(RETRY, at, probability, round(value), tuple(refused), why), features, why))

    update_left = (context.hold_until - now) if context.hold_until is not None else time_left
    update = _card_update(context, update_left, limits)
    allowed = [alt for alt, _, _ in retries if not alt.refused_by and alt.expected_recovered_minor > 0]
    if not update.refused_by:
        allowed.append(update)
    high_stakes = amount >= limits.escalate_at_minor or context.has_past_chargeback or context.past_chargebacks > 0
    time_remains = (update_left is None or update_left > timedelta(0)) and (
        time_left is None or time_left > timedelta(0)
    )
    escalate = Alternative(ESCALATE, None, 0.0, 0, note="a person decides")
    give_up = Alternative(GIVE_UP, None, 0.0, 0, note="release the booking")

    reasons = list(context.verdict.reasons)
    blocked_by = tuple(dict.fromkeys(rule for alt, _, _ in retries for rule in alt.refused_by))
    ranked = sorted(allowed, key=lambda alt: (alt.expected_recovered_minor, alt.action == RETRY), reverse=True)
    if context.verdict.suspected_fraud:
        chosen, confidence = escalate, RULE_CONFIDENCE
        reasons.append("the issuer reported the card lost, stolen or fraudulent: a person looks before any pay link")
    elif ranked:
        chosen = ranked[0]
        runner_up = ranked[1].expected_recovered_minor if len(ranked) > 1 else 0
        confidence = _confidence(model, chosen, runner_up, amount, choices=len(ranked))
    elif time_remains or high_stakes:
        chosen, confidence = escalate, RULE_CONFIDENCE
        reasons.append("no retry or card-update request is allowed: a person decides")
    else:
        chosen, confidence = give_up, RULE_CONFIDENCE
        reasons.append("no time left before the activity and no action allowed: release the booking")
    if chosen.action == GIVE_UP and high_stakes:
        chosen = escalate
        reasons.append("high value or past chargeback: a person decides instead of cancelling")

    if chosen.action == RETRY:
        features = next(f for alt, f, _ in retries if alt is chosen)
        reasons.extend(model.explain(features))
        reasons.append(
            f"retry {chosen.note} ({chosen.at:%a %d %b %H:%M} UTC): highest expected recovery of "
            f"{len(retries)} times considered, P(success) {chosen.probability:.0%}"
        )
    elif chosen.action == REQUEST_CARD_UPDATE:
        reasons.append(
            f"ask the customer for another card: P(paid) {chosen.probability:.0%}, better than any allowed retry"
        )
    alternatives = (*(alt for alt, _, _ in retries), update, escalate, give_up)
    return RecoveryPlan(
        action=chosen.action,
        retry_at=chosen.at if chosen.action == RETRY else None,
        probability=chosen.probability,
        expected_recovered_minor=max(0, chosen.expected_recovered_minor),
        confidence=confidence,
        score=100.0 * (1.0 - chosen.probability),
        model_version=model.version,
        reasons=tuple(dict.fromkeys(reasons)),
        alternatives=alternatives,
        blocked_by=blocked_by,
    )


def _card_update(context: RecoveryContext, time_left: timedelta | None, limits: RetryLimits) -> Alternative:
    """A card-update request: its prior by class, scaled by how much of the hold window remains."""
    refused: list[str] = []
    share = 1.0
    if time_left is not None:
        if time_left <= timedelta(0):
            refused.append("no time left for the customer to update the card before the activity")
        else:
            share = min(1.0, time_left / limits.hold_window)
    if context.verdict.suspected_fraud:
        refused.append("suspected fraud: no pay link without a person")
    probability = CARD_UPDATE_PRIOR.get(context.verdict.decline_class, CARD_UPDATE_PRIOR[CUSTOMER]) * share
    return Alternative(
        REQUEST_CARD_UPDATE,
        None,
        probability,
        round(probability * context.amount_minor),
        tuple(refused),
        "email a link to pay with another card",
    )


def _confidence(model: RetryModel, chosen: Alternative, runner_up: int, amount: int, *, choices: int) -> float:
    """The model's own confidence, times how clearly the choice beats the runner-up (0.5 to 1)."""
    if choices == 1 and chosen.action != RETRY:
        return RULE_CONFIDENCE
    # A lead of 10 % of the amount or more counts as clear.
    margin = (chosen.expected_recovered_minor - runner_up) / max(1, amount)
    clarity = 0.5 + 0.5 * min(1.0, max(0.0, margin) / 0.10)
    return round(model.confidence * clarity, 3)
