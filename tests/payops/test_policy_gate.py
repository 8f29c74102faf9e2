"""The decision → gate → executor path, proved with a small test-only workflow."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import Decision, Mode, Outcome, Route
from payops import executors
from payops.executors import ExecutionError, execute_decision, sweep_executions
from payops.models import ApproverRole, ReviewItem, ReviewStatus, WorkflowPolicy
from payops.policy_gate import InvalidProposal, Proposal, rollout_bucket, submit_proposal
from tests.payops.sample_workflow import ACTION, WORKFLOW, FakeOutsideSystem, make_executor, reminder_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture
def outside() -> Iterator[FakeOutsideSystem]:
    system = FakeOutsideSystem()
    executors.executes(ACTION)(make_executor(system))
    yield system
    executors.unregister(ACTION)


def set_policy(**fields: Any) -> WorkflowPolicy:
    policy, _ = WorkflowPolicy.objects.update_or_create(workflow=WORKFLOW, defaults=fields)
    return policy


def test_an_unknown_workflow_starts_in_monitor_mode_and_only_logs(outside: FakeOutsideSystem) -> None:
    decision = submit_proposal(reminder_proposal("B1"))
    assert (decision.mode, decision.route, decision.outcome) == (Mode.MONITOR, Route.LOG, Outcome.LOGGED)
    assert not ReviewItem.objects.exists()
    assert outside.calls == 0


def test_the_decision_records_everything_needed_to_explain_it() -> None:
    decision = submit_proposal(reminder_proposal("B2", score=12.5, confidence=0.91))
    assert decision.booking_id == "B2"
    assert decision.stripe_ids == ["pi_B2"]
    assert decision.reason == "booking B2 has 5000 usd due"
    assert decision.reasons == ["amount due", "no reminder sent yet"]
    assert (decision.score, decision.confidence, decision.model_version) == (12.5, 0.91, "sample-1")
    assert (decision.amount_minor, decision.currency) == (5000, "usd")
    assert decision.trace_id
    assert decision.route_reason == "workflow is in monitor mode"


def test_suggest_mode_queues_a_review_item_and_executes_nothing(outside: FakeOutsideSystem) -> None:
    set_policy(mode=Mode.SUGGEST)
    decision = submit_proposal(reminder_proposal("B3"))
    assert (decision.route, decision.outcome) == (Route.QUEUE, Outcome.QUEUED)
    item = ReviewItem.objects.get(decision=decision)
    assert (item.status, item.action, item.booking_id, item.amount_minor) == (ReviewStatus.OPEN, ACTION, "B3", 5000)
    assert item.risk_score == 10
    assert outside.calls == 0


def test_automate_mode_executes_within_thresholds_once(
    outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(reminder_proposal("B4"))
    decision.refresh_from_db()
    assert (decision.route, decision.outcome) == (Route.EXECUTE, Outcome.EXECUTED)
    assert decision.outcome_detail == {"object_id": "obj_1"}
    assert decision.outcome_at is not None
    assert list(outside.writes) == [decision.idempotency_key]
    # A second delivery of the same task finds nothing pending.
    assert execute_decision(decision.pk) is None
    assert outside.calls == 1


@pytest.mark.parametrize(
    ("proposal_args", "blocker"),
    [
        ({"score": 31}, "risk 31 above the automation limit 30"),
        ({"confidence": 0.5}, "confidence 0.50 below the automation minimum 0.80"),
        ({"amount_minor": 10_001}, "amount 10001 above the automation limit 10000"),
        ({"currency": "eur"}, "amount in EUR but thresholds are set in USD"),
    ],
)
def test_automate_mode_queues_what_is_outside_a_threshold(
    outside: FakeOutsideSystem, proposal_args: dict[str, Any], blocker: str, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(reminder_proposal("B5", **proposal_args))
    assert decision.route == Route.QUEUE
    assert blocker in decision.route_reason
    assert ReviewItem.objects.filter(decision=decision).exists()
    assert outside.calls == 0


def test_rollout_split_is_deterministic_per_booking_and_near_the_percentage() -> None:
    set_policy(mode=Mode.SUGGEST, rollout_percent=30)
    bookings = [f"BK{n}" for n in range(400)]
    routes = {b: submit_proposal(reminder_proposal(b)).route for b in bookings}
    inside = [b for b, route in routes.items() if route == Route.QUEUE]
    assert 0.22 < len(inside) / len(bookings) < 0.38
    assert all(rollout_bucket(WORKFLOW, b) < 30 for b in inside)
    # The same booking lands on the same side every time.
    again = {b: submit_proposal(reminder_proposal(b)).route for b in bookings[:50]}
    assert again == {b: routes[b] for b in bookings[:50]}
    outside_decision = Decision.objects.filter(route=Route.LOG).first()
    assert outside_decision is not None
    assert "outside the 30% rollout" in outside_decision.route_reason


def test_zero_rollout_only_logs_and_full_rollout_applies_the_mode() -> None:
    set_policy(mode=Mode.SUGGEST, rollout_percent=0)
    assert submit_proposal(reminder_proposal("B6")).route == Route.LOG
    set_policy(mode=Mode.SUGGEST, rollout_percent=100)
    assert submit_proposal(reminder_proposal("B6")).route == Route.QUEUE


@pytest.mark.parametrize(
    ("amount", "currency", "role", "approvals"),
    [
        (50_000, "usd", ApproverRole.REVIEWER, 1),
        (50_001, "usd", ApproverRole.APPROVER, 1),
        (250_000, "usd", ApproverRole.APPROVER, 1),
        (250_001, "usd", ApproverRole.APPROVER, 2),
        (100, "eur", ApproverRole.APPROVER, 1),
    ],
)
def test_queued_items_carry_who_must_approve(amount: int, currency: str, role: str, approvals: int) -> None:
    set_policy(mode=Mode.SUGGEST)
    decision = submit_proposal(reminder_proposal("B7", amount_minor=amount, currency=currency))
    item = ReviewItem.objects.get(decision=decision)
    assert (item.required_role, item.approvals_required) == (role, approvals)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"confidence": 1.5}, "confidence must be within 0..1"),
        ({"score": -1}, "score must be within 0..100"),
        ({"amount_minor": -5}, "cannot be negative"),
        ({"amount_minor": 12.5}, "integer number of minor units"),
        ({"currency": "USD"}, "lower-case ISO currency"),
        ({"reason": "  "}, "needs a workflow, an action and a reason"),
        ({"review_kind": "tea"}, "unknown review kind"),
    ],
)
def test_invalid_proposals_are_refused_before_anything_is_written(changes: dict[str, Any], message: str) -> None:
    base = {
        "workflow": WORKFLOW,
        "action": ACTION,
        "reason": "r",
        "amount_minor": 100,
        "currency": "usd",
        "confidence": 0.9,
        "score": 5,
    }
    with pytest.raises(InvalidProposal, match=message):
        Proposal(**{**base, **changes})
    assert not Decision.objects.exists()


def test_retryable_executor_error_is_retried_later_with_the_same_idempotency_key(
    outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    outside.fail_next = [ExecutionError("429 rate limited", retryable=True)]
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(reminder_proposal("B8"))
    decision.refresh_from_db()
    assert decision.outcome == Outcome.PENDING
    assert decision.next_attempt_at is not None and decision.next_attempt_at > timezone.now()
    # Not before its time, whatever message arrives.
    assert execute_decision(decision.pk) is None
    Decision.objects.filter(pk=decision.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert execute_decision(decision.pk) == Outcome.EXECUTED
    decision.refresh_from_db()
    assert decision.attempts == 2
    assert outside.calls == 2
    assert list(outside.writes) == [decision.idempotency_key]


def test_final_executor_error_fails_the_decision_visibly(
    outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    outside.fail_next = [ExecutionError("card permanently declined")]
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(reminder_proposal("B9"))
    decision.refresh_from_db()
    assert decision.outcome == Outcome.FAILED
    assert decision.outcome_detail == {"error": "card permanently declined"}


def test_decision_for_an_action_without_executor_fails_with_a_reason(
    django_capture_on_commit_callbacks: Any,
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(reminder_proposal("B10"))
    decision.refresh_from_db()
    assert decision.outcome == Outcome.FAILED
    assert "no executor registered" in decision.outcome_detail["error"]


def test_execution_sweep_resumes_decisions_of_a_dead_worker_once(
    outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    decision = submit_proposal(reminder_proposal("B11"))  # its on-commit enqueue is lost
    long_ago = timezone.now() - timedelta(hours=1)
    Decision.objects.filter(pk=decision.pk).update(outcome=Outcome.EXECUTING, claimed_at=long_ago, attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_executions() == 1
    decision.refresh_from_db()
    assert decision.outcome == Outcome.EXECUTED
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_executions() == 0
    assert outside.calls == 1


def test_a_decision_that_kills_its_worker_every_time_fails(outside: FakeOutsideSystem) -> None:
    set_policy(mode=Mode.AUTOMATE)
    decision = submit_proposal(reminder_proposal("B15"))
    long_ago = timezone.now() - timedelta(hours=1)
    Decision.objects.filter(pk=decision.pk).update(
        outcome=Outcome.EXECUTING, claimed_at=long_ago, attempts=executors.MAX_EXECUTION_ATTEMPTS
    )
    assert sweep_executions() == 0
    decision.refresh_from_db()
    assert decision.outcome == Outcome.FAILED
    assert outside.calls == 0


def test_execution_sweep_sends_pending_decisions_whose_enqueue_was_lost_once(
    outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    decision = submit_proposal(reminder_proposal("B12"))
    later = timezone.now() + timedelta(minutes=10)
    with django_capture_on_commit_callbacks() as callbacks:
        assert sweep_executions(now=later) == 1
        assert sweep_executions(now=later) == 0
    for callback in callbacks:
        callback()
    decision.refresh_from_db()
    assert decision.outcome == Outcome.EXECUTED


def test_an_approval_shares_the_idempotency_key_of_what_it_approves() -> None:
    proposal = submit_proposal(reminder_proposal("B16"))
    approval = Decision.objects.create(
        trace_id=proposal.trace_id,
        workflow=WORKFLOW,
        action=ACTION,
        reason="approved",
        mode=Mode.MANUAL,
        route=Route.EXECUTE,
        outcome=Outcome.PENDING,
        parent=proposal,
    )
    assert approval.idempotency_key == proposal.idempotency_key


def test_policy_changes_are_kept_in_history() -> None:
    policy = set_policy(mode=Mode.MONITOR)
    policy.mode = Mode.SUGGEST
    policy.save()
    assert [h.mode for h in policy.history.order_by("history_date")] == [Mode.MONITOR, Mode.SUGGEST]


@pytest.mark.parametrize(
    ("changes", "blocker"),
    [({"score": None}, "no risk score given"), ({"amount_minor": None}, "no amount given")],
)
def test_unknown_risk_or_amount_is_never_automated(
    outside: FakeOutsideSystem, changes: dict[str, Any], blocker: str, django_capture_on_commit_callbacks: Any
) -> None:
    import dataclasses

    set_policy(mode=Mode.AUTOMATE)
    proposal = dataclasses.replace(reminder_proposal("B13"), **changes)
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(proposal)
    assert decision.route == Route.QUEUE
    assert blocker in decision.route_reason
    assert outside.calls == 0


def test_an_action_that_moves_no_money_may_be_automated_without_an_amount(
    outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    proposal = dataclasses.replace(reminder_proposal("B14"), amount_minor=None, currency="", moves_money=False)
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(proposal)
    assert decision.route == Route.EXECUTE


@pytest.mark.parametrize(("amount", "currency"), [(10_001, "usd"), (500, "eur")])
def test_amount_limits_bound_money_moved_not_a_note_about_a_large_or_foreign_booking(
    outside: FakeOutsideSystem, amount: int, currency: str
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    note = dataclasses.replace(reminder_proposal("B15"), amount_minor=amount, currency=currency, moves_money=False)
    assert submit_proposal(note).route == Route.EXECUTE
    charge = dataclasses.replace(reminder_proposal("B16"), amount_minor=amount, currency=currency)
    assert submit_proposal(charge).route == Route.QUEUE


def test_automation_limit_cannot_exceed_what_a_person_must_approve() -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        set_policy(automate_max_amount_minor=60_000, approver_threshold_minor=50_000)


def test_a_decision_for_later_runs_only_once_due_and_the_sweep_sends_it(
    outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    set_policy(mode=Mode.AUTOMATE)
    due = timezone.now() + timedelta(hours=20)
    with django_capture_on_commit_callbacks(execute=True):
        decision = submit_proposal(dataclasses.replace(reminder_proposal("B-later"), not_before=due))
    decision.refresh_from_db()
    assert (decision.outcome, decision.next_attempt_at) == (Outcome.PENDING, due)
    assert outside.calls == 0  # the message sent now found it not yet due
    assert sweep_executions(now=due - timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert sweep_executions(now=due + timedelta(seconds=1)) == 1
    assert len(sent) == 1
    Decision.objects.filter(pk=decision.pk).update(next_attempt_at=timezone.now())  # time passes
    assert execute_decision(decision.pk) == Outcome.EXECUTED
    assert outside.calls == 1


def test_a_proposal_that_needs_a_person_is_queued_even_when_automation_allows_anything(
    outside: FakeOutsideSystem,
) -> None:
    set_policy(mode=Mode.AUTOMATE, automate_max_risk=100, automate_min_confidence=0)
    decision = submit_proposal(dataclasses.replace(reminder_proposal("B17"), requires_person=True))
    assert (decision.route, decision.route_reason) == (Route.QUEUE, "this action always needs a person")
    assert ReviewItem.objects.filter(decision=decision).exists()
    assert outside.calls == 0
