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


User = AbstractBaseUser | AnonymousUser


def _check_role(item: ReviewItem, user: Any) -> None:
    if not user.is_authenticated or not user.has_perm("payops.act_on_reviewitem"):
        raise ReviewRefused("you may read the queue but not act on it", status=403)
    if item.required_role == ApproverRole.APPROVER and not user.has_perm("payops.approve_large_reviewitem"):
        raise ReviewRefused("this amount needs an Approver", status=403)


def _child(item: ReviewItem, user: Any, *, action: str, params: dict[str, Any], reason: str, run: bool) -> Decision:
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
        mode=Mode.MANUAL,
        route=Route.EXECUTE if run else Route.LOG,
        route_reason=f"{reason} by {user.get_username()}",
        actor_type=ActorType.USER,
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
            cleaned[name] = allowed[name](value)
        except (TypeError, ValueError) as exc:
            raise ReviewRefused(f"{name}: {value!r} is not valid", status=400) from exc
    amount = cleaned.get("amount_minor")
    if amount is not None and (amount <= 0 or (item.amount_minor is not None and amount > item.amount_minor)):
        raise ReviewRefused(f"the amount must be between 1 and {item.amount_minor} minor units", status=400)
    return cleaned


def approve(item_id: int, user: Any, *, changes: Mapping[str, Any] | None = None) -> Decision | None:
    """Approve (with changes, if any). Returns the executing Decision, or None while a second approval is needed."""
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().select_related("decision").get(pk=item_id)
        _check_role(item, user)
        if item.status != ReviewStatus.OPEN:
            raise ReviewRefused(f"already {item.get_status_display().lower()}")
        cleaned = _clean_changes(item, changes or {})
        if item.approvals_required > 1 and item.approvals.exists() and cleaned:
            raise ReviewRefused("the first approver approved it unchanged: approve or reject it as it is", status=400)
        try:
            with transaction.atomic():
                ReviewApproval.objects.create(item=item, user=user)
        except IntegrityError as exc:
            raise ReviewRefused("you have already approved this; it needs a different second person") from exc
        if item.approvals.count() < item.approvals_required:
            return None
        params = {**item.params, **cleaned}
        item.status = ReviewStatus.CHANGED if cleaned else ReviewStatus.APPROVED
        item.params = params
        item.save(update_fields=["status", "params", "updated_at"])
        child = _child(
            item,
            user,
            action=item.action,
            params=params,
            reason="approved" + (" with changes" if cleaned else ""),
            run=True,
        )
        Decision.objects.filter(pk=item.decision_id).update(
            outcome=Outcome.EXECUTED, outcome_at=timezone.now(), outcome_detail={"approved_as": str(child.pk)}
        )
        queue_decision_execution(child.pk)
    logger.info("review item %s approved by %s", item.pk, user.get_username())
    return child


def reject(item_id: int, user: Any, *, reason: str) -> Decision:
    """Reject with a reason; the workflow's follow-up (if any) executes."""
    reason = (reason or "").strip()
    if not reason:
        raise ReviewRefused("say why it is rejected", status=400)
    with transaction.atomic():
        item = ReviewItem.objects.select_for_update().select_related("decision").get(pk=item_id)
        _check_role(item, user)
        if item.status != ReviewStatus.OPEN:
            raise ReviewRefused(f"already {item.get_status_display().lower()}")
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
        Decision.objects.filter(pk=item.decision_id).update(
            outcome=Outcome.REJECTED,
            outcome_at=timezone.now(),
            outcome_detail={"rejected_by": user.get_username(), "reason": reason},
        )
        if follow_up is not None:
            queue_decision_execution(child.pk)
    logger.info("review item %s rejected by %s: %s", item.pk, user.get_username(), reason)
    return child
