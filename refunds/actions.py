"""The refund proposal: which payments, how much, and why in words; the "refunds" policy decides who acts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from audit.models import Decision
from payops.models import ReviewKind
from payops.money import from_minor
from payops.policy_gate import Proposal, submit_proposal

WORKFLOW = "refunds"
REFUND = "refunds.refund"
# What a rejected refund runs: it moves nothing, and a cancellation's record says it was declined.
DECLINE = "refunds.decline"
# Stripe's refund reasons PayOps uses; "fraudulent" stays with the fraud workflow (it labels the payment).
REASONS = ("duplicate", "requested_by_customer")
RULES_VERSION = "refund-rules-1"


def money(amount_minor: int, currency: str) -> str:
    return f"{from_minor(amount_minor, currency)} {currency.upper()}"


def propose_refund(
    *,
    booking_code: str,
    payment_intent_ids: Sequence[str],
    amount_minor: int,
    currency: str,
    reason: str,
    stripe_reason: str,
    reasons: list[str],
    risk: float,
    version: str = RULES_VERSION,
    requires_person: bool = False,
    extra_params: Mapping[str, Any] | None = None,
) -> Decision:
    """Ask for `amount_minor` back to the customer's card, from these payments, newest first.

    `risk` is the risk of refunding (not of the payment): returning a second
    payment for a booking already paid risks little; a person still decides
    anything the policy's thresholds do not cover.
    """
    if stripe_reason not in REASONS:
        raise ValueError(f"unknown refund reason {stripe_reason!r}")
    if not payment_intent_ids:
        raise ValueError("a refund needs the payment it comes from")
    params: dict[str, Any] = {"payment_intent_ids": list(payment_intent_ids), "stripe_reason": stripe_reason}
    if len(payment_intent_ids) == 1:
        params["payment_intent_id"] = payment_intent_ids[0]  # what proposed_for looks up
    return submit_proposal(
        Proposal(
            workflow=WORKFLOW,
            action=REFUND,
            review_kind=ReviewKind.REFUND,
            reason=reason,
            reasons=reasons,
            params={**params, **(extra_params or {})},
            score=risk,
            confidence=1.0,
            model_version=version,
            booking_id=booking_code,
            stripe_ids=list(payment_intent_ids),
            amount_minor=amount_minor,
            currency=currency,
            requires_person=requires_person,
        )
    )


def proposed_for(payment_intent_id: str, booking_code: str) -> bool:
    """Whether a refund of this payment was proposed already (whatever became of it), alone or with the
    booking's other payments when it was cancelled."""
    from refunds.models import CancellationRefund

    if Decision.objects.filter(action=REFUND, params__payment_intent_id=payment_intent_id, parent=None).exists():
        return True
    cancelled = CancellationRefund.objects.filter(booking_code=booking_code).exclude(decision=None).first()
    return cancelled is not None and payment_intent_id in cancelled.payment_intent_ids
