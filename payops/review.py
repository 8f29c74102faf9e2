"""A person's answer to a ReviewItem: approve (as proposed or changed) or reject, checked and recorded.

Every answer is a Decision with the person as actor, child of the proposal:
an approval executes the proposed action under the proposal's idempotency
key; a rejection executes the workflow's follow-up action when it has one
(rejecting a fraud hold's release cancels the booking) and otherwise only
records it. Roles are checked here, on the server, whatever the page shows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import ActorType, Decision, Mode, Outcome, Route
from payops.dispatch import queue_decision_execution
from payops.models import ApproverRole, ReviewApproval, ReviewItem, ReviewStatus

logger = logging.getLogger(__name__)

# action → the action a rejection carries out; set by each workflow.
_ON_REJECT: dict[str, str] = {}
# action → the params a reviewer may change, each with its check.
_CHANGEABLE: dict[str, Mapping[str, type]] = {}


class ReviewRefused(Exception):
    """The person may not do this to this item now; the message says why (shown to them)."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def on_reject(action: str, follow_up: str) -> None:
    _ON_REJECT[action] = follow_up


def changeable(action: str, **fields: type) -> None:
    _CHANGEABLE[action] = fields


def _as(kind: type, value: Any) -> Any:
    """The value as `kind`, refusing what would only fit by rounding (12.5 is not an amount in minor units)."""
    if kind is int:
        # int(12.5) and int(True) both "work"; neither is what the reviewer typed as a whole number.
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"{value!r} is not a whole number")
        return int(value)
    return kind(value)


User = AbstractBaseUser | AnonymousUser


def _check_role(item: ReviewItem, user: Any) -> None:
    if not user.is_authenticated or not user.has_perm("payops.act_on_reviewitem"):
        raise ReviewRefused("you may read the queue but not act on it", status=403)
    if item.required_role == ApproverRole.APPROVER and not user.has_perm("payops.approve_large_reviewitem"):
        raise ReviewRefused("this amount needs an Approver", status=403)


def _child(
    item: ReviewItem, user: Any | None, *, action: str, params: dict[str, Any], reason: str, run: bool
) -> Decision:
    """The answer as a Decision: the person's, or (user None) the system's when nobody answered in time."""
    parent = item.decision
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
        queued_at=timezone.now() if run else None,
    )


def _clean_changes(item: ReviewItem, changes: Mapping[str, Any]) -> dict[str, Any]:
    allowed = _CHANGEABLE.get(item.action, {})
    cleaned: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in allowed:
            raise ReviewRefused(f"{name} cannot be changed on {item.action}", status=400)
        try:
            cleaned[name] = _as(allowed[name], value)
        except (TypeError, ValueError) as exc:
            raise ReviewRefused(f"{name}: {value!r} is not valid", status=400) from exc
    if "amount_minor" in cleaned:
        amount = cleaned["amount_minor"]
        # Only ever down: the role this item needs was set by its amount, and
        # an item without one has no bound a reviewer could stay within.
        if item.amount_minor is None:
            raise ReviewRefused("this item has no amount to change", status=400)
        if not 1 <= amount <= item.amount_minor:
            raise ReviewRefused(f"the amount must be between 1 and {item.amount_minor} minor units", status=400)
    return cleaned


def _locked_open_item(item_id: int, user: Any) -> ReviewItem:
    """The item, locked until the transaction ends, once the user may act on it and it is still open."""
    # The lock serialises answers to one item: a second approver waits here
    # and then finds it no longer open.
    item = ReviewItem.objects.select_for_update().select_related("decision").filter(pk=item_id).first()
    if item is None:
        raise ReviewRefused("no such review item", status=404)
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
            logger.info(
                "review item %s: first of %s approvals, by %s",
                item.pk,
                item.approvals_required,
                user.get_username(),
                extra={"review_item_id": item.pk, "decision_id": str(item.decision_id)},
            )
            return None
        changed = params != item.decision.params
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
        queue_decision_execution(child.pk)
    logger.info(
        "review item %s approved by %s",
        item.pk,
        user.get_username(),
        extra={"review_item_id": item.pk, "decision_id": str(child.pk)},
    )
    return child


def reject(item_id: int, user: Any, *, reason: str) -> Decision:
    """Reject with a reason; the workflow's follow-up (if any) executes."""
    reason = (reason or "").strip()
    if not reason:
        raise ReviewRefused("say why it is rejected", status=400)
    with transaction.atomic():
        item = _locked_open_item(item_id, user)
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
            queue_decision_execution(child.pk)
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
        queue_decision_execution(child.pk)
    logger.info("review item %s unanswered: %s", item_id, reason, extra={"decision_id": str(child.pk)})
    return child
