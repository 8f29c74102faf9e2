"""The dunning actions, carried out once each: tell and hold, retry the charge, escalate, cancel.

Every outside write goes through the Stripe gateway (with a key per write of
the decision) or the Checkfront client, after re-reading what it is about to
change: a decision may run long after it was made.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.dateparse import parse_datetime

from audit.models import Decision, Outcome
from bookings.checkfront_client import CheckfrontClient, CheckfrontError
from bookings.models import CLOSED_STATUSES
from dunning import actions
from dunning.messages import MessageFacts, MessageNotDelivered, send_once
from dunning.models import MessageKind, RecoveryCase, RecoveryStatus
from payops.executors import ExecutionError, executes
from payops.stripe_errors import CardDeclined, StripeGatewayError, StripeInvalidRequest, StripeUnavailable
from payops.stripe_gateway import operation_key, stripe_gateway

logger = logging.getLogger(__name__)

# Checkfront statuses a hold must not overwrite: paid, or already released.
_SETTLED = {"PAID", *CLOSED_STATUSES}


def _case(decision: Decision) -> RecoveryCase:
    try:
        return RecoveryCase.objects.get(pk=decision.params["case_id"])
    except (KeyError, RecoveryCase.DoesNotExist) as exc:
        raise ExecutionError(f"decision {decision.pk} names no recovery case") from exc


def _checkfront_status(case: RecoveryCase) -> str:
    try:
        return str(CheckfrontClient().booking(case.booking_code).get("status_id", ""))
    except CheckfrontError as exc:
        raise ExecutionError(f"Checkfront unreachable for {case.booking_code}: {exc}", retryable=True) from exc


def _set_status(case: RecoveryCase, status_id: str) -> None:
    try:
        CheckfrontClient().update_booking_status(case.booking_code, status_id=status_id)
    except CheckfrontError as exc:
        raise ExecutionError(f"could not set {case.booking_code} to {status_id}: {exc}", retryable=True) from exc


def _send(case: RecoveryCase, decision: Decision, kind: str, facts: MessageFacts) -> None:
    try:
        send_once(case=case, decision_id=str(decision.pk), kind=kind, facts=facts)
    except MessageNotDelivered as exc:
        raise ExecutionError(str(exc), retryable=True) from exc


def _facts(decision: Decision, case: RecoveryCase) -> MessageFacts:
    params = decision.params
    at = parse_datetime(params.get("next_attempt_at") or "") if params.get("next_attempt_at") else None
    return MessageFacts(
        reason_text=str(params.get("customer_text", "")),
        next_attempt_at=at,
        link=actions.pay_link(case) if params.get("with_link") else "",
    )


@executes(actions.NOTIFY)
def notify_customer(decision: Decision) -> dict[str, Any]:
    """Tell the customer (email + note); while recovery runs, keep the booking held in Checkfront."""
    case = _case(decision)
    kind = str(decision.params.get("kind", ""))
    if kind != MessageKind.RECOVERED and case.status not in (RecoveryStatus.ACTIVE, RecoveryStatus.ESCALATED):
        return {"skipped": f"recovery is {case.status}: nothing to tell"}
    held = False
    if decision.params.get("hold") and case.status in (RecoveryStatus.ACTIVE, RecoveryStatus.ESCALATED):
        status = _checkfront_status(case)
        if status not in _SETTLED and status not in ("HOLD", "PART"):
            _set_status(case, "HOLD")
            held = True
    if kind:  # no kind: hold only
        _send(case, decision, kind, _facts(decision, case))
    return {"kind": kind, "held": held}


@executes(actions.RETRY)
def retry_payment(decision: Decision) -> dict[str, Any]:
    """Charge the saved card again, off-session. The result arrives by webhook and plans the next step."""
    case = _case(decision)
    if case.status != RecoveryStatus.ACTIVE:
        return {"skipped": f"recovery is {case.status}"}
    gateway = stripe_gateway()
    try:
        intent = gateway.retrieve_payment_intent(case.payment_intent_id)
    except StripeUnavailable as exc:
        raise ExecutionError(str(exc), retryable=True) from exc
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        return {"skipped": f"payment is {intent.status}"}
    booking_status = _checkfront_status(case)
    if booking_status in _SETTLED:
        return {"skipped": f"the booking is {booking_status} in Checkfront"}
    attempt = int(decision.params.get("attempt", 0))
    try:
        if intent.setup_future_usage:
            # Stripe refuses an off-session charge of a PaymentIntent set to save its card.
            gateway.update_payment_intent(
                case.payment_intent_id,
                idempotency_key=operation_key(decision.idempotency_key, f"retry-{attempt}-unset-setup"),
                setup_future_usage="",
            )
        result = gateway.confirm_payment_intent(
            case.payment_intent_id,
            idempotency_key=operation_key(decision.idempotency_key, f"retry-{attempt}"),
            payment_method_id=case.payment_method_id or None,
            off_session=True,
        )
    except CardDeclined as exc:
        # Declined is a result, not a failure of this step: the webhook records it.
        return {"attempt": attempt, "declined": exc.reason, "charge": exc.charge_id}
    except StripeGatewayError as exc:
        raise ExecutionError(str(exc), retryable=exc.retryable) from exc
    return {"attempt": attempt, "status": result.status}


@executes(actions.ESCALATE)
def escalate(decision: Decision) -> dict[str, Any]:
    """A person takes the case over: no more automatic steps."""
    case = _case(decision)
    RecoveryCase.objects.filter(pk=case.pk, status=RecoveryStatus.ACTIVE).update(
        status=RecoveryStatus.ESCALATED, next_retry_at=None
    )
    return {"escalated": case.booking_code}


@executes(actions.CANCEL)
def cancel_booking(decision: Decision) -> dict[str, Any]:
    """Recovery failed: stop the payment first (nobody can pay it after), then release the place, then tell."""
    case = _case(decision)
    if case.status in (RecoveryStatus.RECOVERED, RecoveryStatus.CLOSED):
        return {"skipped": f"recovery is {case.status}"}
    done = Decision.objects.filter(action=actions.CANCEL, params__case_id=case.pk, outcome=Outcome.EXECUTED)
    # Neither this decision nor the proposal it approves is "another" cancellation.
    if done.exclude(pk__in=[decision.pk, decision.parent_id]).exists():
        return {"skipped": "another cancellation of this case already ran"}
    gateway = stripe_gateway()
    try:
        intent = gateway.retrieve_payment_intent(case.payment_intent_id)
        if intent.status in ("succeeded", "processing", "requires_capture"):
            # Paid (or about to be) while this decision waited: the success closes the case.
            return {"skipped": f"the payment is {intent.status}"}
        if intent.status != "canceled":
            gateway.cancel_payment_intent(
                case.payment_intent_id,
                idempotency_key=operation_key(decision.idempotency_key, "cancel"),
                reason="abandoned",
            )
    except StripeInvalidRequest as exc:
        # Refused because it moved on meanwhile: look again before releasing anything.
        status = gateway.retrieve_payment_intent(case.payment_intent_id).status
        if status != "canceled":
            raise ExecutionError(f"payment {case.payment_intent_id} is {status}; not cancelled: {exc}") from exc
    except StripeGatewayError as exc:
        raise ExecutionError(str(exc), retryable=exc.retryable) from exc
    status = _checkfront_status(case)
    if status == "PAID":
        return {"skipped": "the booking was paid in Checkfront meanwhile"}
    if status not in CLOSED_STATUSES:
        _set_status(case, "STOP")  # an unlocked status: Checkfront releases the inventory
    RecoveryCase.objects.filter(pk=case.pk).update(status=RecoveryStatus.CANCELLED, next_retry_at=None)
    _send(case, decision, MessageKind.CANCELLED, _facts(decision, case))
    return {"cancelled": case.booking_code}
