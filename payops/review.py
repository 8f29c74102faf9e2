"""A person's answer to a ReviewItem: approve (as proposed or changed) or reject, checked and recorded.

Every answer is a Decision with the person as actor, child of the proposal:
an approval executes the proposed action under the proposal's idempotency
key; a rejection executes the workflow's follow-up action when it has one
(rejecting a fraud hold's release cancels the booking) and otherwise only
records it. Roles are checked here, on the server, whatever the page shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import ActorType, Decision, Mode, Outcome, Route, Workflow
from payops.dispatch import queue_decision_execution
from payops.models import ApproverRole, ReviewApproval, ReviewItem, ReviewStatus
from payops.money import from_minor
from payops.requeue import countdown_until

logger = logging.getLogger(__name__)

# action → the action a rejection carries out; set by each workflow.
_ON_REJECT: dict[str, str] = {}
# action → the params a reviewer may change, each with its check: a type,
# or a function returning the clean value and raising ValueError with the reason.
_CHANGEABLE: dict[str, Mapping[str, Callable[[Any], Any]]] = {}
# action → checks of a change against the item itself (a retry not after the booking's hold ends).
_CHECKS: dict[str, Callable[[ReviewItem, Mapping[str, Any]], None]] = {}
# action → the param holding the time an approval runs at (a retry planned for later).
_RUNS_AT: dict[str, str] = {}
# action → a check of any approval against the item as it stands (dispute evidence past Stripe's deadline).
_APPROVAL_CHECKS: dict[str, Callable[[ReviewItem], None]] = {}
# The note every answer, comment and assignment leaves on the Checkfront
# booking; its executor is the console's (console/notes.py).
NOTE = "review.note"
MAX_TEXT = 1000


class ReviewRefused(Exception):
    """The person may not do this to this item now; the message says why (shown to them)."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def on_reject(action: str, follow_up: str) -> None:
    _ON_REJECT[action] = follow_up


def changeable(action: str, **fields: Callable[[Any], Any]) -> None:
    _CHANGEABLE[action] = fields


def checks_changes(action: str, check: Callable[[ReviewItem, Mapping[str, Any]], None]) -> None:
    """`check(item, changes)` raises ValueError with the reason when these changes do not fit this item."""
    _CHECKS[action] = check


def checks_approval(action: str, check: Callable[[ReviewItem], None]) -> None:
    """`check(item)` raises ValueError with the reason when no approval of this item may run now."""
    _APPROVAL_CHECKS[action] = check


def changeable_fields(action: str) -> Mapping[str, Callable[[Any], Any]]:
    return _CHANGEABLE.get(action, {})


def runs_at(action: str, param: str) -> None:
    """An approval of `action` runs at the time in `param` (ISO 8601), not at once, when that is later."""
    _RUNS_AT[action] = param


def _as(kind: Callable[[Any], Any], value: Any) -> Any:
    """The value as `kind`, refusing what would only fit by rounding (12.5 is not an amount in minor units)."""
    if kind is int:
        # int(12.5) and int(True) both "work"; neither is what the reviewer typed as a whole number.
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"{value!r} is not a whole number")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
    return kind(value)


User = AbstractBaseUser | AnonymousUser


def _check_may_act(user: Any) -> None:
    """Comments and assignments: anyone who may act on the queue, whatever the item's amount."""
    if not user.is_authenticated or not user.has_perm("payops.act_on_reviewitem"):
        raise ReviewRefused("you may read the queue but not act on it", status=403)


def _check_role(item: ReviewItem, user: Any) -> None:
    _check_may_act(user)
    if item.required_role == ApproverRole.APPROVER and not user.has_perm("payops.approve_large_reviewitem"):
        raise ReviewRefused("this amount needs an Approver", status=403)


def _child(
    item: ReviewItem, user: Any | None, *, action: str, params: dict[str, Any], reason: str, run: bool
) -> Decision:
    """The answer as a Decision: the person's, or (user None) the system's when nobody answered in time."""
    parent = item.decision
    at = _run_time(action, params) if run else None
    return Decision.objects.create(
        trace_id=parent.trace_id,
        workflow=parent.workflow,
        booking_id=parent.booking_id,
        stripe_ids=parent.stripe_ids,
        action=action,
        params=params,
        amount_minor=params.get("amount_minor", parent.amount_minor),
        currency=parent.currency,
        reason=reason,
        reasons=parent.reasons,
        score=parent.score,
        confidence=parent.confidence,
        model_version=parent.model_version,
        mode=Mode.MANUAL if user is not None else parent.mode,
        route=Route.EXECUTE if run else Route.LOG,
        route_reason=f"{reason} by {user.get_username()}" if user is not None else reason,
        actor_type=ActorType.USER if user is not None else ActorType.SYSTEM,
        actor=user,
        parent=parent,
        outcome=Outcome.PENDING if run else Outcome.LOGGED,
        queued_at=_queue_time(at) if run else None,
        next_attempt_at=at,
    )


def _run_time(action: str, params: Mapping[str, Any]) -> datetime | None:
    """When an approved action may run: its planned time if later than now, else at once (None)."""
    name = _RUNS_AT.get(action)
    value = parse_datetime(str(params.get(name) or "")) if name else None
    return value if value is not None and value > timezone.now() else None


def _queue_time(at: datetime | None) -> datetime:
    now = timezone.now()
    return now + timedelta(seconds=countdown_until(at, now=now))


def _queue(decision: Decision) -> None:
    queue_decision_execution(decision.pk, countdown=countdown_until(decision.next_attempt_at, now=timezone.now()))


def current_params(item: ReviewItem) -> dict[str, Any]:
    """The item's params as they stand, with the proposal's amount (kept on the Decision, not in params)."""
    return {"amount_minor": item.decision.amount_minor, **item.params}


def _clean_changes(item: ReviewItem, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes that really change something, each checked; a value that cannot be used is refused."""
    allowed = _CHANGEABLE.get(item.action, {})
    current = current_params(item)
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in allowed:
            raise ReviewRefused(f"{name} cannot be changed on {item.action}", status=400)
        try:
            clean = _as(allowed[name], value)
        except (TypeError, ValueError) as exc:
            raise ReviewRefused(f"{name}: {exc}", status=400) from exc
        if isinstance(clean, str) and "\x00" in clean:
            # PostgreSQL refuses NUL in text and JSON: say so rather than fail writing it.
            raise ReviewRefused(f"{name} holds a NUL character", status=400)
        if clean != current.get(name):
            cleaned[name] = clean
    if "amount_minor" in cleaned:
        amount = cleaned["amount_minor"]
        # Only ever down: the role this item needs was set by its amount, and
        # an item without one has no bound a reviewer could stay within.
        if item.amount_minor is None:
            raise ReviewRefused("this item has no amount to change", status=400)
        if not 1 <= amount <= item.amount_minor:
            raise ReviewRefused(f"the amount must be between 1 and {item.amount_minor} minor units", status=400)
    check = _CHECKS.get(item.action)
    if cleaned and check is not None:
        try:
            check(item, cleaned)
        except ValueError as exc:
            raise ReviewRefused(str(exc), status=400) from exc
    return cleaned


def _locked_open_item(item_id: int, user: Any, *, may_answer: bool = True) -> ReviewItem:
    """The item, locked until the transaction ends, once the user may act on it and it is still open."""
    # The lock serialises answers to one item: a second approver waits here
    # and then finds it no longer open.
    item = ReviewItem.objects.select_for_update().select_related("decision").filter(pk=item_id).first()
    if item is None:
        raise ReviewRefused("no such review item", status=404)
    if may_answer:
        _check_role(item, user)
    if item.status != ReviewStatus.OPEN:
        raise ReviewRefused(f"already {item.get_status_display().lower()}")
    return item


def _close_proposal(item: ReviewItem, **outcome: Any) -> None:
    """Record the answer on the proposal, only while it still waits for review."""
    # Conditional: something else (a dunning case ending) may have expired
    # the proposal; then this answer comes too late and rolls back.
    if not Decision.objects.filter(pk=item.decision_id, outcome=Outcome.QUEUED).update(
        outcome_at=timezone.now(), **outcome
    ):
        raise ReviewRefused("the proposal is no longer waiting for review")


def approve(item_id: int, user: Any, *, changes: Mapping[str, Any] | None = None) -> Decision | None:
    """Approve (with changes, if any). Returns the executing Decision, or None while a second approval is needed.

    On an item needing two people the first approver's changes are kept on
    the item, so the second person approves exactly that, as it stands.
    """
    with transaction.atomic():
        item = _locked_open_item(item_id, user)
        gate = _APPROVAL_CHECKS.get(item.action)
        if gate is not None:
            try:
                gate(item)
            except ValueError as exc:
                raise ReviewRefused(str(exc)) from exc
        cleaned = _clean_changes(item, changes or {})
        if item.approvals_required > 1 and item.approvals.exists() and cleaned:
            raise ReviewRefused("the first approver approved it as it stands: approve or reject that", status=400)
        try:
            with transaction.atomic():
                ReviewApproval.objects.create(item=item, user=user)
        except IntegrityError as exc:
            raise ReviewRefused("you have already approved this; it needs a different second person") from exc
        params = {**item.params, **cleaned}
        if item.approvals.count() < item.approvals_required:
            if cleaned:
                item.params = params
                item.save(update_fields=["params", "updated_at"])
            _note_answer(
                item,
                user,
                f"first of {item.approvals_required} approvals; a different person must approve too",
                label="first approval",
            )
            logger.info(
                "review item %s: first of %s approvals, by %s",
                item.pk,
                item.approvals_required,
                user.get_username(),
                extra={"review_item_id": item.pk, "decision_id": str(item.decision_id)},
            )
            return None
        changed = bool(cleaned) or params != item.decision.params
        item.status = ReviewStatus.CHANGED if changed else ReviewStatus.APPROVED
        item.params = params
        item.save(update_fields=["status", "params", "updated_at"])
        child = _child(
            item,
            user,
            action=item.action,
            params=params,
            reason="approved" + (" with changes" if changed else ""),
            run=True,
        )
        approvers = list(item.approvals.order_by("created_at", "pk").values_list("user__username", flat=True))
        # The proposal stays queued until its child finishes (executors._finish
        # gives it the child's outcome): marked executed now, it would count as
        # done before anything ran, and stay done if the child failed.
        _close_proposal(
            item, outcome=Outcome.QUEUED, outcome_detail={"approved_as": str(child.pk), "approved_by": approvers}
        )
        _queue(child)
        _note_answer(
            item,
            user,
            "approved" + (f" with changes ({_changes_text(item.decision, params)})" if changed else ""),
            label="approved with changes" if changed else "approved",
        )
    logger.info(
        "review item %s approved by %s",
        item.pk,
        user.get_username(),
        extra={"review_item_id": item.pk, "decision_id": str(child.pk)},
    )
    return child


def reject(item_id: int, user: Any, *, reason: str) -> Decision:
    """Reject with a reason; the workflow's follow-up (if any) executes."""
    with transaction.atomic():
        # Who may, first: a refused role hears that, not what its reason lacks.
        item = _locked_open_item(item_id, user)
        if not (reason or "").strip():
            raise ReviewRefused("say why it is rejected", status=400)
        reason = _text(reason, "the reason")
        follow_up = _ON_REJECT.get(item.action)
        item.status = ReviewStatus.REJECTED
        item.save(update_fields=["status", "updated_at"])
        child = _child(
            item,
            user,
            action=follow_up or item.action,
            params={**item.params, "rejection_reason": reason},
            reason=f"rejected: {reason}",
            run=follow_up is not None,
        )
        _close_proposal(
            item, outcome=Outcome.REJECTED, outcome_detail={"rejected_by": user.get_username(), "reason": reason}
        )
        if follow_up is not None:
            _queue(child)
        _note_answer(item, user, f"rejected: {reason}", label="rejected")
    logger.info(
        "review item %s rejected by %s: %s",
        item.pk,
        user.get_username(),
        reason,
        extra={"review_item_id": item.pk, "decision_id": str(child.pk)},
    )
    return child


def act_when_unanswered(item_id: int, *, action: str, reason: str) -> Decision | None:
    """Nobody answered before the item's deadline: carry out the workflow's documented default, as the system.

    The item expires; the default runs as a child of the proposal, like an
    answer, so the audit trail shows who (nobody) and why. None when a person
    answered meanwhile.
    """
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().select_related("decision").filter(pk=item_id).first()
        if item is None or item.status != ReviewStatus.OPEN:
            return None
        item.status = ReviewStatus.EXPIRED
        item.save(update_fields=["status", "updated_at"])
        child = _child(item, None, action=action, params=dict(item.params), reason=reason, run=True)
        _queue(child)
    logger.info("review item %s unanswered: %s", item_id, reason, extra={"decision_id": str(child.pk)})
    return child


def assign(item_id: int, user: Any, *, assignee: str) -> Decision:
    """Give an open item to a person who may act on it (or to nobody: empty `assignee`)."""
    _check_may_act(user)
    with transaction.atomic():
        item = _locked_open_item(item_id, user, may_answer=False)
        person = None
        if "\x00" in assignee:
            raise ReviewRefused("a user name holds no NUL character", status=400)
        if assignee:
            person = get_user_model().objects.filter(username=assignee, is_active=True).first()
            if person is None:
                raise ReviewRefused(f"no active user {assignee!r}", status=400)
            if not person.has_perm("payops.act_on_reviewitem"):
                raise ReviewRefused(f"{assignee} may not act on review items", status=400)
            if item.required_role == ApproverRole.APPROVER and not person.has_perm("payops.approve_large_reviewitem"):
                raise ReviewRefused(f"{assignee} is not an Approver, and this amount needs one", status=400)
        if item.assignee_id == (person.pk if person else None):
            raise ReviewRefused(f"already assigned to {assignee}" if person else "already unassigned", status=400)
        item.assignee = person
        item.save(update_fields=["assignee", "updated_at"])
        return _note(item, user, f"assigned to {assignee}" if person else "unassigned", label="assigned")


def comment(item_id: int, user: Any, *, text: str) -> Decision:
    """A reviewer's comment on an item, open or not: kept in the audit log and noted on the booking."""
    _check_may_act(user)
    text = _text(text, "a comment")
    with transaction.atomic():
        item = ReviewItem.objects.select_related("decision").filter(pk=item_id).first()
        if item is None:
            raise ReviewRefused("no such review item", status=404)
        return _note(item, user, f"comment: {text}", label="comment")


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ReviewRefused(f"{what} needs some words", status=400)
    if len(text) > MAX_TEXT:
        raise ReviewRefused(f"{what} is at most {MAX_TEXT} characters", status=400)
    if "\x00" in text:
        raise ReviewRefused(f"{what} holds a NUL character", status=400)
    return text


def _changes_text(proposal: Decision, after: Mapping[str, Any]) -> str:
    """What the reviewer changed, in words: "amount 50.00 → 30.00 USD", "retry_at … → …"."""
    before = {"amount_minor": proposal.amount_minor, **proposal.params}
    words = []
    for name in sorted(after):
        old, new = before.get(name), after[name]
        if new == old:
            continue
        if name == "amount_minor" and proposal.currency and isinstance(new, int):
            was = from_minor(old, proposal.currency) if isinstance(old, int) else "?"
            words.append(f"amount {was} → {from_minor(new, proposal.currency)} {proposal.currency.upper()}")
        elif name.endswith("_at"):
            words.append(f"{name.removesuffix('_at').replace('_', ' ')} time {_when(old)} → {_when(new)}")
        elif isinstance(new, str) and (len(new) > 60 or len(str(old or "")) > 60 or "\n" in new):
            # A long text (dispute evidence) would not fit a Checkfront note twice over: say what changed.
            words.append(f"{name.replace('_', ' ')} edited ({len(str(old or ''))} → {len(new)} characters)")
        else:
            words.append(f"{name} {old} → {new}")
    return ", ".join(words)


def _when(value: Any) -> str:
    at = parse_datetime(str(value or ""))
    return timezone.localtime(at).strftime("%d %b %H:%M %Z") if at is not None and at.tzinfo else str(value)


def _note_answer(item: ReviewItem, user: Any, what: str, *, label: str) -> None:
    # An answer is a Decision already: its note is only for the booking, where there is one.
    if item.booking_id:
        _note(item, user, what, label=label)


def _note(item: ReviewItem, user: Any, what: str, *, label: str) -> Decision:
    """Record what a person did to an item, as a Decision that writes it on the Checkfront booking (if any)."""
    body = f"PayOps review #{item.pk} ({item.get_kind_display()}): {what}, by {user.get_username()}"
    parent = item.decision
    run = bool(item.booking_id)
    decision = Decision.objects.create(
        trace_id=parent.trace_id,
        workflow=Workflow.CONSOLE,
        booking_id=parent.booking_id,
        stripe_ids=parent.stripe_ids,
        action=NOTE,
        params={"review_item": item.pk, "body": body},
        reason=body,
        mode=Mode.MANUAL,
        route=Route.EXECUTE if run else Route.LOG,
        route_reason=f"{label} by {user.get_username()}",
        actor_type=ActorType.USER,
        actor=user,
        parent=parent,
        outcome=Outcome.PENDING if run else Outcome.LOGGED,
        queued_at=timezone.now() if run else None,
    )
    if run:
        queue_decision_execution(decision.pk)
    return decision
