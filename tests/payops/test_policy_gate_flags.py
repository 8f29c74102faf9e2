"""The gate's per-proposal flags: protective, record_only and action_risk, in every mode and rollout."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from audit.models import Decision, Mode, Outcome, Route
from payops.models import ReviewItem, WorkflowPolicy
from payops.policy_gate import InvalidProposal, Proposal, rollout_bucket, submit_proposal
from tests.payops.sample_workflow import ACTION, WORKFLOW, reminder_proposal

pytestmark = pytest.mark.django_db

PARTIAL_ROLLOUT = 50


def set_policy(**fields: Any) -> WorkflowPolicy:
    policy, _ = WorkflowPolicy.objects.update_or_create(workflow=WORKFLOW, defaults=fields)
    return policy


def booking_in_rollout(*, inside: bool) -> str:
    """A booking id that falls inside (or outside) the partial rollout, found by its stable bucket."""
    return next(
        code for code in (f"RB{n}" for n in range(1000)) if (rollout_bucket(WORKFLOW, code) < PARTIAL_ROLLOUT) == inside
    )


def protective(booking_id: str = "P1", **changes: Any) -> Proposal:
    # A hold: risky by score, moves no money, so only the protective flag lets it run.
    return dataclasses.replace(
        reminder_proposal(booking_id, score=95, confidence=0.5), moves_money=False, protective=True, **changes
    )


def record_only(booking_id: str = "R1") -> Proposal:
    return dataclasses.replace(reminder_proposal(booking_id, score=3), moves_money=False, record_only=True)


def routed(proposal: Proposal) -> tuple[str, str, str]:
    decision = submit_proposal(proposal)
    return decision.route, decision.outcome, decision.route_reason


# --- protective ---------------------------------------------------------------------------------


def test_a_protective_action_is_only_logged_in_monitor_mode() -> None:
    set_policy(mode=Mode.MONITOR)
    assert routed(protective()) == (Route.LOG, Outcome.LOGGED, "workflow is in monitor mode")
    assert not ReviewItem.objects.exists()


@pytest.mark.parametrize("mode", [Mode.SUGGEST, Mode.AUTOMATE])
def test_a_protective_action_executes_in_suggest_mode_as_in_automate(mode: str) -> None:
    set_policy(mode=mode)
    route, outcome, reason = routed(protective())
    assert (route, outcome) == (Route.EXECUTE, Outcome.PENDING)
    assert reason.startswith("protective:")
    assert not ReviewItem.objects.exists()


def test_a_protective_action_outside_a_partial_rollout_is_only_logged() -> None:
    set_policy(mode=Mode.SUGGEST, rollout_percent=PARTIAL_ROLLOUT)
    route, _, reason = routed(protective(booking_in_rollout(inside=False)))
    assert route == Route.LOG
    assert f"outside the {PARTIAL_ROLLOUT}% rollout" in reason
    assert routed(protective(booking_in_rollout(inside=True)))[0] == Route.EXECUTE


def test_a_protective_action_that_moves_money_is_refused_before_anything_is_written() -> None:
    with pytest.raises(InvalidProposal, match="a protective action cannot move money"):
        dataclasses.replace(reminder_proposal("P2"), protective=True)
    assert not Decision.objects.exists()


# --- record_only --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [Mode.MONITOR, Mode.SUGGEST, Mode.AUTOMATE])
def test_a_record_only_proposal_is_logged_in_every_mode(mode: str) -> None:
    set_policy(mode=mode, automate_max_risk=100, automate_min_confidence=0)
    assert routed(record_only()) == (Route.LOG, Outcome.LOGGED, "recorded only: nothing to do")
    assert not ReviewItem.objects.exists()


@pytest.mark.parametrize("inside", [True, False])
def test_a_record_only_proposal_is_logged_inside_or_outside_a_partial_rollout(inside: bool) -> None:
    set_policy(mode=Mode.AUTOMATE, rollout_percent=PARTIAL_ROLLOUT)
    route, _, reason = routed(record_only(booking_in_rollout(inside=inside)))
    assert (route, reason) == (Route.LOG, "recorded only: nothing to do")


# --- action_risk --------------------------------------------------------------------------------


def test_the_gate_compares_action_risk_not_score_and_the_decision_keeps_the_score() -> None:
    set_policy(mode=Mode.AUTOMATE, automate_max_risk=60)
    decision = submit_proposal(dataclasses.replace(reminder_proposal("A1", score=95), action_risk=5))
    assert (decision.route, decision.route_reason) == (
        Route.EXECUTE,
        "automate mode, within every threshold (the action's own risk 5)",
    )
    assert decision.score == 95


def test_a_high_action_risk_is_queued_however_low_the_score() -> None:
    set_policy(mode=Mode.AUTOMATE, automate_max_risk=60)
    decision = submit_proposal(dataclasses.replace(reminder_proposal("A2", score=5), action_risk=95))
    assert decision.route == Route.QUEUE
    assert "risk 95 above the automation limit 60" in decision.route_reason
    assert ReviewItem.objects.get(decision=decision).risk_score == 5


def test_action_risk_stands_in_for_a_missing_score() -> None:
    set_policy(mode=Mode.AUTOMATE, automate_max_risk=60)
    decision = submit_proposal(dataclasses.replace(reminder_proposal("A3"), score=None, action_risk=10))
    assert decision.route == Route.EXECUTE
    assert decision.score is None


@pytest.mark.parametrize("mode", [Mode.MONITOR, Mode.SUGGEST])
def test_a_low_action_risk_does_not_automate_outside_automate_mode(mode: str) -> None:
    set_policy(mode=mode, automate_max_risk=60)
    route = submit_proposal(dataclasses.replace(reminder_proposal("A4", score=95), action_risk=5)).route
    assert route == (Route.LOG if mode == Mode.MONITOR else Route.QUEUE)


def test_a_low_action_risk_outside_a_partial_rollout_is_only_logged() -> None:
    set_policy(mode=Mode.AUTOMATE, automate_max_risk=60, rollout_percent=PARTIAL_ROLLOUT)
    outside = dataclasses.replace(reminder_proposal(booking_in_rollout(inside=False), score=95), action_risk=5)
    assert submit_proposal(outside).route == Route.LOG


@pytest.mark.parametrize("action_risk", [-1, 100.5, 1000])
def test_an_action_risk_outside_0_to_100_is_refused(action_risk: float) -> None:
    with pytest.raises(InvalidProposal, match=r"action_risk must be within 0\.\.100"):
        Proposal(workflow=WORKFLOW, action=ACTION, reason="r", moves_money=False, action_risk=action_risk)
    assert not Decision.objects.exists()
