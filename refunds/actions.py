"""The refund proposal: which payment, how much, and why in words; the "refunds" policy decides who acts."""

from __future__ import annotations

from audit.models import Decision
from payops.models import ReviewKind
from payops.policy_gate import Proposal, submit_proposal

WORKFLOW = "refunds"
REFUND = "refunds.refund"
# Stripe's refund reasons PayOps uses; "fraudulent" stays with the fraud workflow (it labels the payment).
REASONS = ("duplicate", "requested_by_customer")
RULES_VERSION = "refund-rules-1"


def propose_refund(
    *,
    booking_code: str,
    payment_intent_id: str,
    amount_minor: int,
    currency: str,
    reason: str,
    stripe_reason: str,
    reasons: list[str],
    risk: float,
) -> Decision:
    """Ask for `amount_minor` of the payment back to the customer's card.

    `risk` is the risk of refunding (not of the payment): returning a second
    payment for a booking already paid risks little; a person still decides
    anything the policy's thresholds do not cover.
    """
    if stripe_reason not in REASONS:
        raise ValueError(f"unknown refund reason {stripe_reason!r}")
    return submit_proposal(
        Proposal(
            workflow=WORKFLOW,
            action=REFUND,
            review_kind=ReviewKind.REFUND,
            reason=reason,
            reasons=reasons,
            params={"payment_intent_id": payment_intent_id, "stripe_reason": stripe_reason},
            score=risk,
            confidence=1.0,
            model_version=RULES_VERSION,
            booking_id=booking_code,
            stripe_ids=[payment_intent_id],
            amount_minor=amount_minor,
            currency=currency,
        )
    )


def proposed_for(payment_intent_id: str) -> bool:
    """Whether a refund of this payment was proposed already (whatever became of it)."""
    return Decision.objects.filter(action=REFUND, params__payment_intent_id=payment_intent_id, parent=None).exists()
