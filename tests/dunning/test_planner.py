"""The planner: the best allowed action, never a retry a rule refuses."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from dunning.network_rules import PastAttempt, RetryLimits
from dunning.planner import ESCALATE, GIVE_UP, REQUEST_CARD_UPDATE, RETRY, RecoveryPlan, plan_recovery
from dunning.retry_features import display_zone
from dunning.retry_model import PRIOR
from payops.policy_gate import Proposal
from tests.dunning.core_fixtures import CARD, NOW, make_context

LIMITS = RetryLimits()


def test_hard_decline_is_never_retried_and_gets_a_card_update_request() -> None:
    plan = plan_recovery(make_context(code="do_not_try_again"), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action == REQUEST_CARD_UPDATE
    assert plan.retry_at is None
    assert any("hard decline" in rule for rule in plan.blocked_by)
    assert all(alt.refused_by for alt in plan.alternatives if alt.action == RETRY)


def test_customer_class_decline_gets_a_card_update_request() -> None:
    plan = plan_recovery(make_context(code="expired_card"), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action == REQUEST_CARD_UPDATE
    assert plan.probability == 0.40
    assert plan.expected_recovered_minor == 4_800


def test_soft_decline_is_retried_at_the_allowed_time_with_the_highest_expected_recovery() -> None:
    plan = plan_recovery(make_context(code="insufficient_funds"), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action == RETRY
    allowed = [a for a in plan.alternatives if a.action == RETRY and not a.refused_by]
    assert plan.retry_at == max(allowed, key=lambda a: a.expected_recovered_minor).at
    assert plan.retry_at is not None and plan.retry_at > NOW
    assert 8 <= plan.retry_at.astimezone(display_zone()).hour < 20
    assert any("payday" in reason for reason in plan.reasons)
    assert plan.model_version == "prior-1"


def test_a_technical_error_is_retried_within_hours() -> None:
    plan = plan_recovery(make_context(code="processing_error"), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action == RETRY
    assert plan.retry_at is not None and plan.retry_at - NOW <= timedelta(hours=12)


def test_mastercard_timing_advice_moves_the_retry() -> None:
    plan = plan_recovery(
        make_context(
            code="insufficient_funds",
            network_advice_code="30",
            brand="mastercard",
            service_start_at=NOW + timedelta(days=20),
        ),
        now=NOW,
        model=PRIOR,
        limits=LIMITS,
    )
    assert plan.action == RETRY
    assert plan.retry_at is not None and plan.retry_at >= NOW + timedelta(days=10)


def second_retry_plan(now: datetime) -> RecoveryPlan:
    """The plan after a first retry failed at `now`, with the booking held for 47 more hours."""
    failed = [PastAttempt(now, CARD, 12_000, "eur", initiator, False) for initiator in ("customer", "merchant")]
    context = make_context(now=now, retries_so_far=1, attempts=failed, hold_until=now + timedelta(hours=47))
    return plan_recovery(context, now=now, model=PRIOR, limits=LIMITS)


def test_a_retry_worth_less_than_asking_for_another_card_gives_way_to_the_request() -> None:
    # Friday 19:00: every retry before the hold ends lands outside banking hours on a Saturday
    # just before a payday, and each is worth less than the card-update request.
    plan = second_retry_plan(NOW.replace(hour=19))
    allowed = [a for a in plan.alternatives if a.action == RETRY and not a.refused_by]
    [update] = [a for a in plan.alternatives if a.action == REQUEST_CARD_UPDATE]
    assert allowed and all(a.expected_recovered_minor < update.expected_recovered_minor for a in allowed)
    assert plan.action == REQUEST_CARD_UPDATE
    # Two hours earlier the same retry tomorrow falls in banking hours and is worth more.
    assert second_retry_plan(NOW.replace(hour=17)).action == RETRY


def test_retries_used_up_with_time_left_means_a_card_update_request() -> None:
    plan = plan_recovery(make_context(retries_so_far=4), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action == REQUEST_CARD_UPDATE
    assert any("at most 4" in rule for rule in plan.blocked_by)


def test_out_of_time_means_give_up() -> None:
    plan = plan_recovery(make_context(service_start_at=NOW + timedelta(hours=30)), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action == GIVE_UP
    assert plan.score == 100


def test_high_value_out_of_time_goes_to_a_person_instead_of_giving_up() -> None:
    context = make_context(amount_minor=80_000, service_start_at=NOW + timedelta(hours=30))
    assert plan_recovery(context, now=NOW, model=PRIOR, limits=LIMITS).action == ESCALATE


def test_past_chargeback_out_of_time_goes_to_a_person() -> None:
    context = make_context(service_start_at=NOW + timedelta(hours=30), has_past_chargeback=True)
    assert plan_recovery(context, now=NOW, model=PRIOR, limits=LIMITS).action == ESCALATE


def test_a_stolen_card_goes_to_a_person_before_any_pay_link() -> None:
    plan = plan_recovery(make_context(code="stolen_card"), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action == ESCALATE


def test_network_cap_on_the_card_from_other_bookings_stops_the_retry() -> None:
    attempts = [
        PastAttempt(NOW - timedelta(hours=30 * i + 1), CARD, 12_000, "eur", "merchant", False) for i in range(20)
    ]
    plan = plan_recovery(make_context(attempts=attempts), now=NOW, model=PRIOR, limits=LIMITS)
    assert plan.action != RETRY
    assert any("Visa cap" in rule for rule in plan.blocked_by)


def test_plan_fits_a_gate_proposal_and_its_params_are_json() -> None:
    plan = plan_recovery(make_context(), now=NOW, model=PRIOR, limits=LIMITS)
    params = json.loads(json.dumps(plan.as_params()))
    assert params["action"] == RETRY and params["alternatives"]
    Proposal(
        workflow="dunning",
        action=plan.action,
        reason=plan.reasons[-1],
        params=params,
        reasons=plan.reasons,
        score=plan.score,
        confidence=plan.confidence,
        model_version=plan.model_version,
        amount_minor=12_000,
        currency="eur",
    )
    assert 0 < plan.confidence <= 1 and 0 <= plan.score <= 100


def test_retries_snap_to_local_daytime_in_the_display_time_zone(settings: object) -> None:
    settings.TIME_ZONE = "America/New_York"  # type: ignore[attr-defined]
    plan = plan_recovery(make_context(), now=NOW, model=PRIOR, limits=LIMITS)
    for alt in plan.alternatives:
        if alt.action == RETRY and alt.at is not None:
            assert 8 <= alt.at.astimezone(display_zone()).hour < 20
