"""The refund, carried out once: never more than is left of the payment, under the decision's key, noted."""

from __future__ import annotations

from typing import Any

from audit.models import ActorType, Decision
from bookings.notes import note_for_decision
from payops.executors import ExecutionError, executes
from payops.money import from_minor
from payops.stripe_errors import StripeGatewayError
from payops.stripe_gateway import operation_key, stripe_gateway
from refunds.actions import REFUND


def _left_to_refund(payment_intent_id: str) -> tuple[int, str]:
    """What the payment took less what was refunded already, from Stripe (the mirror may be behind)."""
    intent = stripe_gateway().retrieve_payment_intent(payment_intent_id, expand=["latest_charge"]).to_dict()
    if intent.get("status") != "succeeded":
        return 0, str(intent.get("status"))
    charge = intent.get("latest_charge") if isinstance(intent.get("latest_charge"), dict) else {}
    refunded = int((charge or {}).get("amount_refunded") or 0)
    return int(intent.get("amount_received") or 0) - refunded, "succeeded"


def _ours(decision: Decision, pi_id: str) -> Any | None:
    """This decision's refund, if an earlier run made it: the amount left has changed since, so sending
    the same request again would be refused as a different one under the same key."""
    for earlier in stripe_gateway().list_refunds(payment_intent_id=pi_id):
        if dict(earlier.to_dict().get("metadata") or {}).get("payops_decision_id") == str(decision.pk):
            return earlier
    return None


@executes(REFUND)
def refund(decision: Decision) -> dict[str, Any]:
    pi_id = str(decision.params.get("payment_intent_id") or "")
    amount = decision.amount_minor
    if not pi_id or amount is None or amount <= 0:
        raise ExecutionError(f"decision {decision.pk} names no payment or amount to refund")
    try:
        done = _ours(decision, pi_id)
        if done is None:
            left, status = _left_to_refund(pi_id)
            if left <= 0:
                return {"skipped": f"nothing left to refund on {pi_id} (it is {status})"}
            done = stripe_gateway().create_refund(
                idempotency_key=operation_key(decision.idempotency_key, "refund"),
                payment_intent_id=pi_id,
                amount_minor=min(amount, left),
                reason=str(decision.params.get("stripe_reason") or "requested_by_customer"),
                metadata={
                    "checkfront_booking_id": decision.booking_id,
                    "payops_decision_id": str(decision.pk),
                    "payops_decided_by": "person" if decision.actor_type == ActorType.USER else "rules",
                },
            )
    except StripeGatewayError as exc:
        raise ExecutionError(str(exc), retryable=exc.retryable) from exc
    refunded = int(done.amount)
    _note(
        decision,
        f"Refunded {from_minor(refunded, decision.currency)} {decision.currency.upper()} to the card "
        f"(Stripe {done.id}, payment {pi_id})",
        done.id,
    )
    return {"refund": done.id, "amount_minor": refunded, "status": done.status, "payment_intent_id": pi_id}


def _note(decision: Decision, what: str, refund_id: str) -> None:
    # An approval's own reason is "approved": the note gives the proposal's why, and who approved it.
    why = decision.parent.reason if decision.parent is not None else decision.reason
    by = f", approved by {decision.actor.get_username()}" if decision.actor else ""
    note_for_decision(
        booking_code=decision.booking_id,
        key=operation_key(decision.idempotency_key, "refund_note"),
        body=f"{what}: {why}{by}",
        after=f"refunded {refund_id}",
    )
