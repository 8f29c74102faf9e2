"""Executors: the registered functions that carry out a decided action, once."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from audit.models import Decision, Outcome
from payops.dispatch import queue_decision_execution
from payops.models import ReviewItem, ReviewStatus
from payops.requeue import due_again, max_countdown_seconds, not_before
from payops.review import NOTE
from payops.trace import bound_trace

logger = logging.getLogger(__name__)

Executor = Callable[[Decision], dict[str, Any]]

_EXECUTORS: dict[str, Executor] = {}

MAX_EXECUTION_ATTEMPTS = 5
# A retryable failure (Stripe or Checkfront down, timing out, rate limiting) is waited out for about three
# hours (30 s doubling to 30 min between tries), not minutes: an outage must not drop the action. Still well
# inside the 24 hours Stripe keeps an idempotency key, so a late retry is never a second charge.
MAX_RETRYABLE_ATTEMPTS = 12


class ExecutionError(Exception):
    """An executor could not finish. `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def executes(action: str) -> Callable[[Executor], Executor]:
    """Register the executor for an action.

    An executor receives the Decision, must pass `decision.idempotency_key`
    on every outside write so a second run changes nothing, and returns a
    small JSON-able dict describing what it did.
    """

    def register(executor: Executor) -> Executor:
        if action in _EXECUTORS and _EXECUTORS[action] is not executor:
            raise ValueError(f"action {action!r} already has an executor")
        _EXECUTORS[action] = executor
        return executor

    return register


def unregister(action: str) -> None:
    _EXECUTORS.pop(action, None)


def executor_for(action: str) -> Executor | None:
    return _EXECUTORS.get(action)


def execute_decision(decision_id: uuid.UUID | str) -> str | None:
    """Carry out a pending decision. Returns its new outcome, or None if not claimed."""
    now = timezone.now()
    # Claiming by conditional update means two workers never run one decision,
    # and a retry is not run before its time.
    claimed = Decision.objects.filter(not_before(now=now), pk=decision_id, outcome=Outcome.PENDING).update(
        outcome=Outcome.EXECUTING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        logger.info("decision %s not pending or not due; nothing to execute", decision_id)
        return None
    decision = Decision.objects.get(pk=decision_id)
    with bound_trace(decision.trace_id):
        executor = executor_for(decision.action)
        if executor is None:
            return _finish(decision, Outcome.FAILED, {"error": f"no executor registered for {decision.action!r}"})
        try:
            detail = executor(decision)
        except ExecutionError as exc:
            if exc.retryable and decision.attempts < MAX_RETRYABLE_ATTEMPTS:
                return _retry_later(decision, str(exc))
            return _finish(decision, Outcome.FAILED, {"error": str(exc)})
        except Exception as exc:  # money may have moved: stop and show it, never retry blindly
            logger.exception("executor for %s crashed", decision.action)
            trace = "".join(traceback.format_exception(exc))[-4000:]
            return _finish(decision, Outcome.FAILED, {"error": repr(exc), "traceback": trace})
        return _finish(decision, Outcome.EXECUTED, detail)


def _still_ours(decision: Decision) -> QuerySet[Decision]:
    """The row, only while this worker's claim holds (the sweep may have handed it on)."""
    return Decision.objects.filter(pk=decision.pk, outcome=Outcome.EXECUTING, claimed_at=decision.claimed_at)


def _finish(decision: Decision, outcome: str, detail: dict[str, Any]) -> str | None:
    with transaction.atomic():
        if not _still_ours(decision).update(outcome=outcome, outcome_detail=detail, outcome_at=timezone.now()):
            logger.warning("decision %s was handed to another worker; its result is theirs", decision.pk)
            return None
        # A note about an item (a comment, an answer's note) settles nothing.
        if decision.action != NOTE:
            _settle(decision, outcome)
    log = logger.info if outcome == Outcome.EXECUTED else logger.error
    log("decision %s %s: %s", decision.pk, outcome, detail, extra={"decision_id": str(decision.pk)})
    return outcome


def _settle(decision: Decision, outcome: str) -> None:
    """Its review item follows the result, and an approved proposal takes its approval's outcome."""
    _settle_review_item(decision, outcome)
    if decision.parent_id:
        # An approved proposal waits, queued, for its approval to run; now it has the result.
        waiting = Decision.objects.filter(pk=decision.parent_id, outcome=Outcome.QUEUED)
        answered = waiting.values_list("outcome_detail", flat=True).first() or {}
        waiting.update(
            outcome=outcome,
            outcome_at=timezone.now(),
            outcome_detail={**answered, "carried_out_by": str(decision.pk)},
        )


def _settle_review_item(decision: Decision, outcome: str) -> None:
    """A reviewer's approval executes as a child decision; its item follows the result."""
    status = ReviewStatus.EXECUTED if outcome == Outcome.EXECUTED else ReviewStatus.FAILED
    targets = [decision.pk] + ([decision.parent_id] if decision.parent_id else [])
    for item in ReviewItem.objects.filter(decision_id__in=targets).exclude(
        status__in=[ReviewStatus.REJECTED, ReviewStatus.EXPIRED]
    ):
        item.status = status
        item.save(update_fields=["status", "updated_at"])


def _retry_later(decision: Decision, error: str) -> str:
    delay = min(30 * 2 ** (decision.attempts - 1), 1800)
    countdown = min(delay, max_countdown_seconds())
    now = timezone.now()
    with transaction.atomic():
        if _still_ours(decision).update(
            outcome=Outcome.PENDING,
            outcome_detail={"last_error": error},
            next_attempt_at=now + timedelta(seconds=delay),
            queued_at=now + timedelta(seconds=countdown),
        ):
            queue_decision_execution(decision.pk, countdown=countdown)
    logger.warning("decision %s will be retried in %ss: %s", decision.pk, delay, error)
    return Outcome.PENDING


def sweep_executions(*, now: datetime | None = None) -> int:
    """Queue again decisions whose message was lost or whose worker died, once per sweep.

    Re-running is safe because every executor writes with the decision's
    idempotency key; a decision whose worker died on every attempt fails.
    """
    now = now or timezone.now()
    requeued = 0
    lease_expired = Q(
        outcome=Outcome.EXECUTING, claimed_at__lt=now - timedelta(seconds=settings.EXECUTOR_LEASE_SECONDS)
    )
    for pk in Decision.objects.filter(lease_expired).values_list("pk", flat=True):
        row = Decision.objects.filter(lease_expired, pk=pk)
        if not row.filter(attempts__gte=MAX_EXECUTION_ATTEMPTS).update(
            outcome=Outcome.FAILED,
            outcome_detail={"error": "the worker died or hung on every attempt"},
            outcome_at=now,
        ):
            if row.update(outcome=Outcome.PENDING, next_attempt_at=now, queued_at=now):
                with transaction.atomic():
                    queue_decision_execution(pk)
                requeued += 1
    waiting = Q(outcome=Outcome.PENDING) & due_again(now=now, created_field="created_at")
    with transaction.atomic():
        for pk in Decision.objects.filter(waiting).values_list("pk", flat=True):
            if Decision.objects.filter(waiting, pk=pk).update(queued_at=now):
                queue_decision_execution(pk)
                requeued += 1
    if requeued:
        logger.warning("execution sweep re-queued %s decisions", requeued)
    return requeued
