"""A person's answer to a review item: who may give it, what it records and what it executes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.db import connection

from audit.models import ActorType, Decision, Mode, Outcome, Route
from payops import review
from payops.models import ApproverRole, ReviewApproval, ReviewItem, ReviewStatus, WorkflowPolicy
from payops.policy_gate import submit_proposal
from payops.review import ReviewRefused
from tests.payops.sample_workflow import (
    ACTION,
    FOLLOW_UP,
    WORKFLOW,
    FakeOutsideSystem,
    reminder_proposal,
    wired_to_fake_system,
)

pytestmark = pytest.mark.django_db

# Either side of the default policy's approver (50_000) and second-approval (250_000) thresholds.
REVIEWER_AMOUNT = 5_000
APPROVER_AMOUNT = 60_000
TWO_PEOPLE_AMOUNT = 300_000


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOutsideSystem]:
    """The sample action and its follow-up, executed against a fake outside system; the amount may be changed."""
    yield from wired_to_fake_system(monkeypatch)


@pytest.fixture
def follow_up_on_reject(outside: FakeOutsideSystem) -> str:
    review.on_reject(ACTION, FOLLOW_UP)
    return FOLLOW_UP


@pytest.fixture
def second_reviewer(db: None) -> User:
    user = User.objects.create_user(username="rex")  # no password: nothing here logs in
    user.groups.add(Group.objects.get(name="Reviewer"))
    return user


def queued_item(booking_id: str = "B1", *, amount_minor: int | None = REVIEWER_AMOUNT) -> ReviewItem:
    """A proposal of the sample workflow in suggest mode, waiting in the queue."""
    WorkflowPolicy.objects.update_or_create(workflow=WORKFLOW, defaults={"mode": Mode.SUGGEST})
    proposal = reminder_proposal(booking_id, amount_minor=amount_minor or 0)
    if amount_minor is None:
        proposal = dataclasses.replace(proposal, amount_minor=None, currency="")
    return ReviewItem.objects.get(decision=submit_proposal(proposal))


def answers() -> Any:
    """The recorded proposals and answers, without the notes they leave on the booking."""
    return Decision.objects.exclude(action=review.NOTE)


def refused(call: Any, *args: Any, **kwargs: Any) -> ReviewRefused:
    with pytest.raises(ReviewRefused) as refusal:
        call(*args, **kwargs)
    return refusal.value


def assert_nothing_written(item: ReviewItem) -> None:
    """Only the proposal is recorded, still waiting, and the item is as the gate left it."""
    before_params = item.params
    item.refresh_from_db()
    assert (item.status, item.params) == (ReviewStatus.OPEN, before_params)
    assert not ReviewApproval.objects.filter(item=item).exists()
    assert list(Decision.objects.values_list("pk", flat=True)) == [item.decision_id]
    assert Decision.objects.get(pk=item.decision_id).outcome == Outcome.QUEUED


# --- who may answer -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["viewer", "outsider", "anonymous"])
def test_a_viewer_outsider_or_anonymous_user_may_not_answer_and_nothing_is_written(
    who: str, request: pytest.FixtureRequest, outside: FakeOutsideSystem
) -> None:
    user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)
    item = queued_item()
    approval = refused(review.approve, item.pk, user)
    rejection = refused(review.reject, item.pk, user, reason="looks wrong")
    assert approval.status == rejection.status == 403
    assert_nothing_written(item)


def test_an_approver_level_item_refuses_a_reviewer_and_takes_an_approver(
    reviewer: User, approver: User, outside: FakeOutsideSystem
) -> None:
    item = queued_item(amount_minor=APPROVER_AMOUNT)
    assert (item.required_role, item.approvals_required) == (ApproverRole.APPROVER, 1)
    for answer in (lambda: review.approve(item.pk, reviewer), lambda: review.reject(item.pk, reviewer, reason="no")):
        refusal = refused(answer)
        assert (refusal.status, str(refusal)) == (403, "this amount needs an Approver")
    assert_nothing_written(item)
    assert review.approve(item.pk, approver) is not None


def test_an_item_that_does_not_exist_is_refused_with_404(reviewer: User) -> None:
    assert refused(review.approve, 999_999, reviewer).status == 404
    assert refused(review.reject, 999_999, reviewer, reason="gone").status == 404


# --- approving ----------------------------------------------------------------------------------


def test_a_reviewer_approves_a_small_item_and_it_executes_as_a_child_decision(
    reviewer: User, outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    item = queued_item()
    proposal = item.decision
    with django_capture_on_commit_callbacks(execute=True):
        child = review.approve(item.pk, reviewer)
    assert child is not None
    child.refresh_from_db()
    assert (child.parent_id, child.actor, child.actor_type) == (proposal.pk, reviewer, ActorType.USER)
    assert (child.mode, child.route, child.action) == (Mode.MANUAL, Route.EXECUTE, ACTION)
    assert (child.reason, child.route_reason) == ("approved", "approved by rita")
    assert (child.params, child.amount_minor, child.trace_id) == (proposal.params, REVIEWER_AMOUNT, proposal.trace_id)
    assert child.idempotency_key == proposal.idempotency_key
    # Executed once, by the registered executor, under the proposal's key.
    assert (child.outcome, child.outcome_detail) == (Outcome.EXECUTED, {"object_id": "obj_1"})
    assert list(outside.writes) == [proposal.idempotency_key]
    assert outside.calls == 1
    # The proposal waits, queued, for its approval to run, then takes the child's result; its item follows too.
    proposal.refresh_from_db()
    assert proposal.outcome == Outcome.EXECUTED
    assert proposal.outcome_detail == {
        "approved_as": str(child.pk),
        "approved_by": ["rita"],
        "carried_out_by": str(child.pk),
    }
    item.refresh_from_db()
    assert item.status == ReviewStatus.EXECUTED
    assert list(item.approvals.values_list("user__username", flat=True)) == ["rita"]


def test_an_approval_waiting_for_its_message_leaves_the_item_approved(
    reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queued_item()
    child = review.approve(item.pk, reviewer)  # its on-commit execution has not run
    assert child is not None and child.outcome == Outcome.PENDING
    item.refresh_from_db()
    assert item.status == ReviewStatus.APPROVED
    assert outside.calls == 0


def test_a_two_person_item_needs_two_different_people(
    approver: User, admin_user_in_group: User, outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    item = queued_item(amount_minor=TWO_PEOPLE_AMOUNT)
    assert (item.required_role, item.approvals_required) == (ApproverRole.APPROVER, 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert review.approve(item.pk, approver) is None
    assert list(item.approvals.values_list("user__username", flat=True)) == ["april"]
    assert answers().count() == 1 and outside.calls == 0
    assert outside.notes == [
        f"PayOps review #{item.pk} (Other): first of 2 approvals; a different person must approve too, by april"
    ]
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN
    # The same person twice is still one person.
    again = refused(review.approve, item.pk, approver)
    assert again.status == 409 and "different second person" in str(again)
    assert item.approvals.count() == 1 and answers().count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        child = review.approve(item.pk, admin_user_in_group)
    assert child is not None
    child.refresh_from_db()
    assert (child.actor, child.outcome) == (admin_user_in_group, Outcome.EXECUTED)
    assert outside.calls == 1
    proposal = Decision.objects.get(pk=item.decision_id)
    assert proposal.outcome_detail["approved_by"] == ["april", "ada"]
    assert proposal.outcome == Outcome.EXECUTED, "the notes settle nothing; the approval's execution does"
    assert outside.notes[-1] == f"PayOps review #{item.pk} (Other): approved, by ada"


def test_the_second_person_approves_what_the_first_changed_and_cannot_change_it_again(
    approver: User, admin_user_in_group: User, outside: FakeOutsideSystem
) -> None:
    item = queued_item(amount_minor=TWO_PEOPLE_AMOUNT)
    assert review.approve(item.pk, approver, changes={"amount_minor": 200_000}) is None
    item.refresh_from_db()
    assert (item.status, item.params["amount_minor"]) == (ReviewStatus.OPEN, 200_000)
    refusal = refused(review.approve, item.pk, admin_user_in_group, changes={"amount_minor": 100_000})
    assert refusal.status == 400
    assert item.approvals.count() == 1
    child = review.approve(item.pk, admin_user_in_group)
    assert child is not None
    assert (child.amount_minor, child.params["amount_minor"]) == (200_000, 200_000)
    assert child.reason == "approved with changes"
    item.refresh_from_db()
    assert item.status == ReviewStatus.CHANGED


# --- changing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [REVIEWER_AMOUNT, str(REVIEWER_AMOUNT)])
def test_the_proposed_amount_typed_again_is_no_change(amount: Any, reviewer: User, outside: FakeOutsideSystem) -> None:
    item = queued_item()
    child = review.approve(item.pk, reviewer, changes={"amount_minor": amount})
    assert child is not None and child.reason == "approved" and "amount_minor" not in child.params
    item.refresh_from_db()
    assert item.status != ReviewStatus.CHANGED


@pytest.mark.parametrize("amount", [3_000, "3000", 1, REVIEWER_AMOUNT - 1])
def test_a_reviewer_may_lower_a_changeable_amount(
    amount: Any, reviewer: User, outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    item = queued_item()
    with django_capture_on_commit_callbacks() as callbacks:
        child = review.approve(item.pk, reviewer, changes={"amount_minor": amount})
    assert child is not None
    assert child.params == {"template": "balance_due", "amount_minor": int(amount)}
    assert child.amount_minor == int(amount)
    assert (child.reason, child.route_reason) == ("approved with changes", "approved with changes by rita")
    item.refresh_from_db()
    assert (item.status, item.params["amount_minor"]) == (ReviewStatus.CHANGED, int(amount))
    for callback in callbacks:
        callback()
    child.refresh_from_db()
    assert child.outcome == Outcome.EXECUTED


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"template": "other"}, "template cannot be changed"),
        ({"amount_minor": 0}, "between 1 and 5000"),
        ({"amount_minor": -10}, "between 1 and 5000"),
        ({"amount_minor": REVIEWER_AMOUNT + 1}, "between 1 and 5000"),
        ({"amount_minor": 12.5}, "amount_minor: 12.5 is not a whole number"),
        ({"amount_minor": 3000.0}, "is not a whole number"),
        ({"amount_minor": "12.5"}, "is not a whole number"),
        ({"amount_minor": "lots"}, "amount_minor: 'lots' is not a whole number"),
        ({"amount_minor": True}, "is not a whole number"),
        ({"amount_minor": None}, "is not a whole number"),
    ],
)
def test_a_change_outside_what_the_workflow_allows_is_refused_and_nothing_is_written(
    changes: dict[str, Any], message: str, reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queued_item()
    refusal = refused(review.approve, item.pk, reviewer, changes=changes)
    assert refusal.status == 400
    assert message in str(refusal)
    assert_nothing_written(item)


def test_an_amount_cannot_be_added_to_an_item_without_one(reviewer: User, outside: FakeOutsideSystem) -> None:
    item = queued_item(amount_minor=None)
    assert item.required_role == ApproverRole.REVIEWER
    refusal = refused(review.approve, item.pk, reviewer, changes={"amount_minor": 1_000_000})
    assert (refusal.status, str(refusal)) == (400, "this item has no amount to change")
    assert_nothing_written(item)


def test_nothing_is_changeable_on_an_action_that_registered_no_changes(
    reviewer: User, outside: FakeOutsideSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review, "_CHANGEABLE", {})
    item = queued_item()
    assert refused(review.approve, item.pk, reviewer, changes={"amount_minor": 10}).status == 400
    assert_nothing_written(item)


# --- rejecting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rejection_needs_a_reason(reason: str, reviewer: User, outside: FakeOutsideSystem) -> None:
    item = queued_item()
    refusal = refused(review.reject, item.pk, reviewer, reason=reason)
    assert (refusal.status, str(refusal)) == (400, "say why it is rejected")
    assert_nothing_written(item)


def test_a_rejection_without_a_follow_up_is_only_recorded(
    reviewer: User, outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    item = queued_item()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        child = review.reject(item.pk, reviewer, reason="  customer already paid by phone ")
    # Nothing runs but the note on the booking.
    assert len(callbacks) == 1 and outside.calls == 0
    assert outside.notes == [f"PayOps review #{item.pk} (Other): rejected: customer already paid by phone, by rita"]
    assert (child.action, child.route, child.outcome) == (ACTION, Route.LOG, Outcome.LOGGED)
    assert (child.parent_id, child.actor, child.mode) == (item.decision_id, reviewer, Mode.MANUAL)
    assert child.reason == "rejected: customer already paid by phone"
    assert child.params["rejection_reason"] == "customer already paid by phone"
    assert outside.calls == 0
    proposal = Decision.objects.get(pk=item.decision_id)
    assert proposal.outcome == Outcome.REJECTED
    assert proposal.outcome_detail == {"rejected_by": "rita", "reason": "customer already paid by phone"}
    item.refresh_from_db()
    assert item.status == ReviewStatus.REJECTED


def test_a_rejection_with_a_registered_follow_up_executes_it(
    reviewer: User, follow_up_on_reject: str, outside: FakeOutsideSystem, django_capture_on_commit_callbacks: Any
) -> None:
    item = queued_item()
    with django_capture_on_commit_callbacks(execute=True):
        child = review.reject(item.pk, reviewer, reason="wrong customer")
    child.refresh_from_db()
    assert (child.action, child.route, child.outcome) == (follow_up_on_reject, Route.EXECUTE, Outcome.EXECUTED)
    assert (child.parent_id, child.actor, child.mode) == (item.decision_id, reviewer, Mode.MANUAL)
    assert child.idempotency_key == item.decision.idempotency_key
    assert list(outside.writes) == [child.idempotency_key]
    assert Decision.objects.get(pk=item.decision_id).outcome == Outcome.REJECTED
    # The follow-up's success does not turn the rejected item into an executed one.
    item.refresh_from_db()
    assert item.status == ReviewStatus.REJECTED


# --- answering twice ----------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["approve", "reject"])
@pytest.mark.parametrize("second", ["approve", "reject"])
def test_an_item_already_answered_is_refused_with_409(
    first: str, second: str, reviewer: User, second_reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queued_item()
    answers = {
        "approve": lambda user: review.approve(item.pk, user),
        "reject": lambda user: review.reject(item.pk, user, reason="not needed"),
    }
    answers[first](reviewer)
    decisions = Decision.objects.count()
    refusal = refused(answers[second], second_reviewer)
    assert refusal.status == 409 and str(refusal).startswith("already ")
    assert Decision.objects.count() == decisions, "the refused answer leaves no note either"
    assert item.approvals.count() == (1 if first == "approve" else 0)


def test_an_item_whose_proposal_expired_meanwhile_is_refused_and_nothing_is_written(
    reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queued_item()
    # Something else (a dunning case ending) settled the proposal while the item was on screen.
    Decision.objects.filter(pk=item.decision_id).update(outcome=Outcome.EXPIRED)
    for answer in (lambda: review.approve(item.pk, reviewer), lambda: review.reject(item.pk, reviewer, reason="no")):
        assert refused(answer).status == 409
    item.refresh_from_db()
    assert item.status == ReviewStatus.OPEN
    assert not item.approvals.exists()
    assert Decision.objects.count() == 1


# --- racing -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_people_approving_one_item_at_once_execute_it_once(
    reviewer: User, second_reviewer: User, outside: FakeOutsideSystem
) -> None:
    item = queued_item()
    barrier = threading.Barrier(2)

    def approve_as(user: User) -> Decision | ReviewRefused | None:
        barrier.wait()
        try:
            return review.approve(item.pk, user)
        except ReviewRefused as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(approve_as, [reviewer, second_reviewer]))

    children = [r for r in results if isinstance(r, Decision)]
    refusals = [r for r in results if isinstance(r, ReviewRefused)]
    assert (len(children), len(refusals)) == (1, 1)
    assert refusals[0].status == 409
    child = answers().get(parent_id=item.decision_id)
    assert (child.pk, child.outcome) == (children[0].pk, Outcome.EXECUTED)
    assert outside.calls == 1
    assert ReviewApproval.objects.filter(item=item).count() == 1
