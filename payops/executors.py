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
from django.db.models import F, Q
from django.utils import timezone

from audit.models import Decision, Outcome
from payops.dispatch import queue_decision_execution
from payops.models import ReviewItem, ReviewStatus
from payops.trace import bound_trace

logger = logging.getLogger(__name__)

Executor = Callable[[Decision], dict[str, Any]]

_EXECUTORS: dict[str, Executor] = {}

MAX_EXECUTION_ATTEMPTS = 5


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
    # Claiming by conditional update means two workers never run one decision.
    claimed = Decision.objects.filter(pk=decision_id, outcome=Outcome.PENDING).update(
        outcome=Outcome.EXECUTING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        logger.info("decision %s not pending; nothing to execute", decision_id)
        return None
    decision = Decision.objects.get(pk=decision_id)
    with bound_trace(decision.trace_id):
        executor = executor_for(decision.action)
        if executor is None:
            return _finish(decision, Outcome.FAILED, {"error": f"no executor registered for {decision.action!r}"})
        try:
            detail = executor(decision)
        except ExecutionError as exc:
            if exc.retryable and decision.attempts < MAX_EXECUTION_ATTEMPTS:
                return _retry_later(decision, str(exc))
            return _finish(decision, Outcome.FAILED, {"error": str(exc)})
        except Exception as exc:  # money may have moved: stop and show it, never retry blindly
            logger.exception("executor for %s crashed", decision.action)
            return _finish(
                decision,
                Outcome.FAILED,
                {"error": repr(exc), "traceback": "".join(traceback.format_exception(exc))[-4000:]},
            )
        return _finish(decision, Outcome.EXECUTED, detail)


def _finish(decision: Decision, outcome: str, detail: dict[str, Any]) -> str:
    with transaction.atomic():
        Decision.objects.filter(pk=decision.pk, outcome=Outcome.EXECUTING).update(
            outcome=outcome, outcome_detail=detail, outcome_at=timezone.now()
        )
        _settle_review_item(decision, outcome)
    log = logger.info if outcome == Outcome.EXECUTED else logger.error
    log("decision %s %s: %s", decision.pk, outcome, detail, extra={"decision_id": str(decision.pk)})
    return outcome


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
    with transaction.atomic():
        Decision.objects.filter(pk=decision.pk, outcome=Outcome.EXECUTING).update(
            outcome=Outcome.PENDING, outcome_detail={"last_error": error}
        )
        queue_decision_execution(decision.pk, countdown=delay)
    logger.warning("decision %s will be retried in %ss: %s", decision.pk, delay, error)
    return Outcome.PENDING


def sweep_executions(*, now: datetime | None = None) -> int:
    """Queue again decisions whose execution was lost or whose worker died.

    Re-running is safe because every executor writes with the decision's
    idempotency key.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=settings.EXECUTOR_LEASE_SECONDS)
    stuck_after = timedelta(seconds=settings.INBOX_STUCK_AFTER_SECONDS)
    requeue: list[uuid.UUID] = []
    for pk in Decision.objects.filter(outcome=Outcome.EXECUTING, claimed_at__lt=now - lease).values_list(
        "pk", flat=True
    ):
        if Decision.objects.filter(pk=pk, outcome=Outcome.EXECUTING, claimed_at__lt=now - lease).update(
            outcome=Outcome.PENDING, claimed_at=None
        ):
            requeue.append(pk)
    # Pending and never claimed: the enqueue was lost. Pending after a failed
    # attempt keeps its claim time, so its backoff is respected up to the lease.
    never_claimed = Q(claimed_at__isnull=True, created_at__lt=now - stuck_after)
    retry_lost = Q(claimed_at__lt=now - lease)
    requeue += list(
        Decision.objects.filter(never_claimed | retry_lost, outcome=Outcome.PENDING)
        .exclude(pk__in=requeue)
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        for pk in requeue:
            queue_decision_execution(pk)
    if requeue:
        logger.warning("execution sweep re-queued %s decisions", len(requeue))
    return len(requeue)
