"""The dunning workflow's actions and the proposals that ask for them.

Every step is a Proposal to the gate (payops.policy_gate): recorded as a
Decision with its reasons, then logged, queued for a person or executed as
the "dunning" policy says. Executors live in dunning/executors.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from audit.models import Decision
from bookings.models import Booking
from dunning.models import RecoveryCase
from payments.models import PaymentCollection
from payments.pay_links import pay_url
from payops.models import ReviewKind
from payops.policy_gate import Proposal, submit_proposal

WORKFLOW = "dunning"
NOTIFY = "dunning.notify_customer"
RETRY = "dunning.retry_payment"
ESCALATE = "dunning.escalate"
CANCEL = "dunning.cancel_booking"
RULES_VERSION = "dunning-rules-1"
# Risk given to steps that must always reach a person: above any automation limit.
FOR_A_PERSON = 100.0


def _base(case: RecoveryCase) -> dict[str, Any]:
    return {
        "workflow": WORKFLOW,
        "booking_id": case.booking_code,
        "stripe_ids": [case.payment_intent_id],
        "amount_minor": case.amount_minor,
        "currency": case.currency,
    }


def needs_a_person(case: RecoveryCase, *, has_past_chargeback: bool) -> list[str]:
    """Why a final cancellation must wait for a person (empty: it need not)."""
    reasons = []
    if case.amount_minor >= settings.DUNNING_HIGH_VALUE_MINOR:
        reasons.append(f"high-value booking ({case.amount_minor} {case.currency.upper()} minor units)")
    if has_past_chargeback:
        reasons.append("the customer has disputed a payment before")
    if Booking.objects.filter(code=case.booking_code, paid_minor__gt=0).exists():
        reasons.append("part of the booking is already paid: releasing it means deciding on a refund")
    return reasons


def propose_notify(
    case: RecoveryCase,
    *,
    kind: str,
    reason: str,
    reasons: list[str],
    customer_text: str = "",
    next_attempt_at: datetime | None = None,
    with_link: bool = False,
    hold: bool = False,
    model_version: str = RULES_VERSION,
    not_before: datetime | None = None,
    plan_params: dict[str, Any] | None = None,
) -> Decision:
    params = {
        **(plan_params or {}),
        "case_id": case.pk,
        "kind": kind,
        "customer_text": customer_text,
        "next_attempt_at": next_attempt_at.isoformat() if next_attempt_at else "",
        "with_link": with_link,
        "hold": hold,
    }
    return submit_proposal(
        Proposal(
            **_base(case),
            action=NOTIFY,
            reason=reason,
            reasons=reasons,
            params=params,
            review_kind=ReviewKind.CARD_UPDATE if kind == "card_update" else ReviewKind.OTHER,
            score=0.0,
            confidence=1.0,
            model_version=model_version,
            moves_money=False,
            not_before=not_before,
        )
    )


def propose_retry(
    case: RecoveryCase,
    *,
    plan_params: dict[str, Any],
    attempt: int,
    retry_at: datetime,
    score: float,
    confidence: float,
    model_version: str,
    reason: str,
    reasons: list[str],
) -> Decision:
    return submit_proposal(
        Proposal(
            **_base(case),
            action=RETRY,
            reason=reason,
            reasons=reasons,
            params={**plan_params, "case_id": case.pk, "attempt": attempt, "retry_at": retry_at.isoformat()},
            review_kind=ReviewKind.RETRY,
            score=score,
            confidence=confidence,
            model_version=model_version,
            due_by=retry_at,
            not_before=retry_at,
        )
    )


def propose_escalation(
    case: RecoveryCase,
    *,
    reason: str,
    reasons: list[str],
    plan_params: dict[str, Any],
    model_version: str = RULES_VERSION,
) -> Decision:
    return submit_proposal(
        Proposal(
            **_base(case),
            action=ESCALATE,
            reason=reason,
            reasons=reasons,
            params={**plan_params, "case_id": case.pk},
            review_kind=ReviewKind.ESCALATION,
            requires_person=True,
            score=FOR_A_PERSON,
            confidence=1.0,
            model_version=model_version,
            moves_money=False,
            due_by=case.hold_until,
        )
    )


def propose_cancellation(case: RecoveryCase, *, reason: str, has_past_chargeback: bool = False) -> Decision:
    person = needs_a_person(case, has_past_chargeback=has_past_chargeback)
    return submit_proposal(
        Proposal(
            **_base(case),
            action=CANCEL,
            reason=reason,
            reasons=[reason, *person],
            params={"case_id": case.pk},
            review_kind=ReviewKind.CANCELLATION,
            # A person decides high-value and past-chargeback cancellations.
            requires_person=bool(person),
            score=FOR_A_PERSON if person else 0.0,
            confidence=1.0,
            model_version=RULES_VERSION,
            moves_money=False,
        )
    )


def pay_link(case: RecoveryCase) -> str:
    """Where the customer can pay now with another card: the pay page of the booking's collection."""
    collection = PaymentCollection.objects.filter(payment_intent_id=case.payment_intent_id).first()
    return pay_url(collection.pk) if collection else ""
