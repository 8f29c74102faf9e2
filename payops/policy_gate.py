"""The decision → gate step every workflow uses: record the proposal, then log, queue or execute it."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import Decision, Mode, Outcome, Route
from payops.dispatch import queue_decision_execution
from payops.models import ApproverRole, ReviewItem, ReviewKind, WorkflowPolicy
from payops.requeue import countdown_until
from payops.trace import current_trace_id, new_trace_id

logger = logging.getLogger(__name__)

_CURRENCY = re.compile(r"^[a-z]{3}$")


class InvalidProposal(ValueError):
    """A workflow built a proposal the gate cannot record."""


@dataclass(frozen=True)
class Proposal:
    """One action a workflow wants taken, with everything needed to explain it."""

    workflow: str
    action: str
    reason: str
    review_kind: str = ReviewKind.OTHER
    params: Mapping[str, Any] = field(default_factory=dict)
    reasons: Sequence[str] = ()
    score: float | None = None
    confidence: float | None = None
    model_version: str = ""
    booking_id: str = ""
    stripe_ids: Sequence[str] = ()
    amount_minor: int | None = None
    currency: str = ""
    due_by: datetime | None = None
    # An action that moves money must say how much; one that does not (a
    # note, a reminder) may leave the amount out and still be automated.
    moves_money: bool = True
    # Not executed before this (a retry planned for later); the sweep sends it when due.
    not_before: datetime | None = None
    # Never automated, whatever the thresholds (an escalation, a high-value cancellation).
    requires_person: bool = False
    # Only withholds or prepares (a fraud hold, a dispute's evidence package): moves no
    # money, tells no customer, and a person decides what follows, so it runs in suggest
    # mode as in automate.
    protective: bool = False
    # Nothing to do (a booking scored low): the Decision only records the score.
    record_only: bool = False
    # The risk of taking this action, when it is not the score: blocking a
    # booking scored 95 for fraud risks little, and the gate compares this.
    action_risk: float | None = None

    def __post_init__(self) -> None:
        if not self.workflow or not self.action or not self.reason.strip():
            raise InvalidProposal("a proposal needs a workflow, an action and a reason")
        if self.confidence is not None and not 0 <= self.confidence <= 1:
            raise InvalidProposal(f"confidence must be within 0..1, not {self.confidence}")
        for name, value in (("score", self.score), ("action_risk", self.action_risk)):
            if value is not None and not 0 <= value <= 100:
                raise InvalidProposal(f"{name} must be within 0..100, not {value}")
        if self.protective and self.moves_money:
            raise InvalidProposal("a protective action cannot move money")
        if self.amount_minor is not None:
            if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
                raise InvalidProposal("amount_minor must be an integer number of minor units")
            if self.amount_minor < 0:
                raise InvalidProposal("amount_minor cannot be negative")
            if not _CURRENCY.match(self.currency):
                raise InvalidProposal(f"an amount needs a lower-case ISO currency code, not {self.currency!r}")
        if self.review_kind not in ReviewKind.values:
            raise InvalidProposal(f"unknown review kind {self.review_kind!r}")

    @property
    def rollout_key(self) -> str:
        """What the rollout split is keyed on: the booking, else the first Stripe id."""
        return self.booking_id or (self.stripe_ids[0] if self.stripe_ids else "")


def rollout_bucket(workflow: str, key: str) -> int:
    """A stable 0..99 bucket, so one booking always falls on the same side of a rollout."""
    digest = hashlib.sha256(f"{workflow}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def policy_for(workflow: str) -> WorkflowPolicy:
    """A workflow without a stored policy starts in monitor mode."""
    policy, _ = WorkflowPolicy.objects.get_or_create(workflow=workflow)
    return policy


def route_for(policy: WorkflowPolicy, proposal: Proposal) -> tuple[str, str]:
    """Where the gate sends a proposal, and why, in words for the audit log."""
    if proposal.record_only:
        return Route.LOG, "recorded only: nothing to do"
    if policy.mode == Mode.MONITOR:
        return Route.LOG, "workflow is in monitor mode"
    if policy.rollout_percent < 100:
        if not proposal.rollout_key:
            return Route.LOG, "no booking to place in the partial rollout"
        bucket = rollout_bucket(policy.workflow, proposal.rollout_key)
        if bucket >= policy.rollout_percent:
            return Route.LOG, f"booking outside the {policy.rollout_percent}% rollout (bucket {bucket})"
    if proposal.requires_person:
        return Route.QUEUE, "this action always needs a person"
    if proposal.protective:
        return Route.EXECUTE, "protective: it moves no money and tells no customer, and a person decides what follows"
    if policy.mode == Mode.SUGGEST:
        return Route.QUEUE, "workflow is in suggest mode"
    blockers = automation_blockers(policy, proposal)
    if blockers:
        return Route.QUEUE, "; ".join(blockers)
    if proposal.action_risk is not None:
        return (
            Route.EXECUTE,
            f"automate mode, within every threshold (the action's own risk {proposal.action_risk:.0f})",
        )
    return Route.EXECUTE, "automate mode, within every threshold"


def automation_blockers(policy: WorkflowPolicy, proposal: Proposal) -> list[str]:
    blockers: list[str] = []
    # Unknown is never "within the threshold": a missing score or amount
    # sends the proposal to a person.
    risk = proposal.action_risk if proposal.action_risk is not None else proposal.score
    if risk is None:
        blockers.append("no risk score given")
    elif risk > policy.automate_max_risk:
        blockers.append(f"risk {risk:.0f} above the automation limit {policy.automate_max_risk:.0f}")
    if proposal.confidence is None:
        blockers.append("no confidence given")
    elif proposal.confidence < policy.automate_min_confidence:
        blockers.append(
            f"confidence {proposal.confidence:.2f} below the automation minimum {policy.automate_min_confidence:.2f}"
        )
    if not proposal.moves_money:
        # The amount limits bound money moved; an email or a note about a
        # booking of any size moves none (its amount is there to explain it).
        return blockers
    if proposal.amount_minor is None:
        blockers.append("no amount given for an action that moves money")
    else:
        if proposal.currency != policy.threshold_currency:
            blockers.append(
                f"amount in {proposal.currency.upper()} but thresholds are set in {policy.threshold_currency.upper()}"
            )
        elif proposal.amount_minor > policy.automate_max_amount_minor:
            blockers.append(
                f"amount {proposal.amount_minor} above the automation limit {policy.automate_max_amount_minor}"
            )
    return blockers


def review_requirements(policy: WorkflowPolicy, proposal: Proposal) -> tuple[str, int]:
    """Who must approve a queued proposal, and how many different people."""
    amount = proposal.amount_minor
    if amount is None or not proposal.moves_money:
        return ApproverRole.REVIEWER, 1
    if proposal.currency != policy.threshold_currency:
        # Thresholds cannot be compared across currencies: ask for an Approver.
        return ApproverRole.APPROVER, 1
    if amount > policy.second_approval_threshold_minor:
        return ApproverRole.APPROVER, 2
    if amount > policy.approver_threshold_minor:
        return ApproverRole.APPROVER, 1
    return ApproverRole.REVIEWER, 1


_OUTCOME_FOR_ROUTE: dict[str, str] = {
    Route.LOG: Outcome.LOGGED,
    Route.QUEUE: Outcome.QUEUED,
    Route.EXECUTE: Outcome.PENDING,
}


def submit_proposal(proposal: Proposal) -> Decision:
    """Record the proposal as a Decision and apply the workflow's policy to it."""
    policy = policy_for(proposal.workflow)
    route, route_reason = route_for(policy, proposal)
    now = timezone.now()
    countdown = countdown_until(proposal.not_before, now=now)
    # The Decision, its ReviewItem and the queued execution commit together:
    # there is never a queued item without its audit row, or the reverse.
    with transaction.atomic():
        decision = Decision.objects.create(
            trace_id=current_trace_id() or new_trace_id(),
            workflow=proposal.workflow,
            booking_id=proposal.booking_id,
            stripe_ids=list(proposal.stripe_ids),
            action=proposal.action,
            params=dict(proposal.params),
            amount_minor=proposal.amount_minor,
            currency=proposal.currency,
            reason=proposal.reason,
            reasons=list(proposal.reasons),
            score=proposal.score,
            confidence=proposal.confidence,
            model_version=proposal.model_version,
            mode=policy.mode,
            route=route,
            route_reason=route_reason,
            outcome=_OUTCOME_FOR_ROUTE[route],
            queued_at=now + timedelta(seconds=countdown) if route == Route.EXECUTE else None,
            next_attempt_at=proposal.not_before,
        )
        if route == Route.QUEUE:
            role, approvals = review_requirements(policy, proposal)
            ReviewItem.objects.create(
                kind=proposal.review_kind,
                decision=decision,
                action=proposal.action,
                params=dict(proposal.params),
                booking_id=proposal.booking_id,
                risk_score=proposal.score,
                amount_minor=proposal.amount_minor,
                currency=proposal.currency,
                due_by=proposal.due_by,
                required_role=role,
                approvals_required=approvals,
            )
        elif route == Route.EXECUTE:
            queue_decision_execution(decision.pk, countdown=countdown)
    logger.info(
        "%s proposed %s for booking %s: %s (%s)",
        proposal.workflow,
        proposal.action,
        proposal.booking_id or "-",
        route,
        route_reason,
        extra={"decision_id": str(decision.pk)},
    )
    return decision
