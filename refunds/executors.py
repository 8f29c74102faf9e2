"""The refund, carried out once: never more than is left of each payment, under the decision's keys, noted, emailed.

A refund from several payments (a deposit and a balance) takes from the
newest first. Each payment's refund carries the decision's id in its
metadata, so a run after a crash finds what the first run made instead of
asking Stripe again with a different amount under the same key.
"""

from __future__ import annotations

from typing import Any

from audit.models import ActorType, Decision
from bookings.notes import note_for_decision
from payops.executors import ExecutionError, executes
from payops.stripe_errors import StripeGatewayError
from payops.stripe_gateway import operation_key, stripe_gateway
from refunds import customer_email, records
from refunds.actions import DECLINE, REFUND, money
from refunds.models import CancellationRefund, CancellationRefundStatus
from refunds.records import NOT_GIVEN


def _left_to_refund(payment_intent_id: str) -> tuple[int, str]:
    """What the payment took less what was refunded already, from Stripe (the mirror may be behind)."""
    intent = stripe_gateway().retrieve_payment_intent(payment_intent_id, expand=["latest_charge"]).to_dict()
    if intent.get("status") != "succeeded":
        return 0, str(intent.get("status"))
    charge = intent.get("latest_charge") if isinstance(intent.get("latest_charge"), dict) else {}
    refunded = int((charge or {}).get("amount_refunded") or 0)
    return int(intent.get("amount_received") or 0) - refunded, "succeeded"


def _ours(decision: Decision, refunds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This decision's refunds among a payment's, if an earlier run made them."""
    return [r for r in refunds if dict(r.get("metadata") or {}).get("payops_decision_id") == str(decision.pk)]


def _targets(decision: Decision) -> list[str]:
    ids = decision.params.get("payment_intent_ids") or [decision.params.get("payment_intent_id")]
    return [str(pi) for pi in ids if pi]


@executes(REFUND)
def refund(decision: Decision) -> dict[str, Any]:
    targets = _targets(decision)
    amount = decision.amount_minor
    if not targets or amount is None or amount <= 0:
        raise ExecutionError(f"decision {decision.pk} names no payment or amount to refund")
    made: list[Any] = []
    skipped: list[str] = []
    try:
        # Each payment's refunds, read once: to find this decision's own, and for the cancellation's record.
        listed = {pi: [r.to_dict() for r in stripe_gateway().list_refunds(payment_intent_id=pi)] for pi in targets}
        earlier = {pi: _ours(decision, listed[pi]) for pi in targets}
        # Everything this decision asked for counts, failed or not: a refund the bank sent back is
        # proposed again on its own (refunds/failures.py), so it is never moved to another payment here.
        asked = sum(int(r["amount"]) for rs in earlier.values() for r in rs)
        for pi in targets:
            if earlier[pi]:
                made += earlier[pi]
                continue
            wanted = amount - asked
            if wanted <= 0:
                break
            left, status = _left_to_refund(pi)
            if left <= 0:
                skipped.append(f"nothing left to refund on {pi} (it is {status})")
                continue
            part = min(wanted, left)
            done = stripe_gateway().create_refund(
                # One key per payment; a one-payment refund keeps the key it always had.
                idempotency_key=operation_key(
                    decision.idempotency_key, "refund" if len(targets) == 1 else f"refund:{pi}"
                ),
                payment_intent_id=pi,
                amount_minor=part,
                reason=str(decision.params.get("stripe_reason") or "requested_by_customer"),
                metadata={
                    "checkfront_booking_id": decision.booking_id,
                    "payops_decision_id": str(decision.pk),
                    "payops_decided_by": "person" if decision.actor_type == ActorType.USER else "rules",
                },
            )
            made.append(done.to_dict())
            listed[pi].append(made[-1])
            asked += part
    except StripeGatewayError as exc:
        raise ExecutionError(str(exc), retryable=exc.retryable) from exc
    if not made:
        return {"skipped": "; ".join(skipped) or "nothing to refund"}
    refunded = sum(int(r["amount"]) for r in made if r["status"] not in NOT_GIVEN)
    ids = [str(r["id"]) for r in made]
    _note(decision, refunded, ids)
    _record(decision, listed)
    return {
        "refund": ids[0],
        "refunds": ids,
        "amount_minor": refunded,
        "status": made[0]["status"],
        "payment_intent_id": targets[0],
        **({"skipped": "; ".join(skipped)} if skipped else {}),
    }


def _note(decision: Decision, refunded: int, refund_ids: list[str]) -> None:
    # An approval's own reason is "approved": the note gives the proposal's why, and who approved it.
    why = decision.parent.reason if decision.parent is not None else decision.reason
    by = f", approved by {decision.actor.get_username()}" if decision.actor else ""
    note_for_decision(
        booking_code=decision.booking_id,
        key=operation_key(decision.idempotency_key, "refund_note"),
        body=f"Refunded {money(refunded, decision.currency)} to the card (Stripe {', '.join(refund_ids)}, "
        f"payment {', '.join(_targets(decision))}): {why}{by}",
        after=f"refunded {', '.join(refund_ids)}",
    )


def _cancellation_of(decision: Decision) -> CancellationRefund | None:
    row_id = decision.params.get("cancellation_refund_id")
    return CancellationRefund.objects.filter(pk=row_id).first() if row_id else None


def _refresh_from_stripe(
    row: CancellationRefund, listed: dict[str, list[dict[str, Any]]] | None = None
) -> CancellationRefund:
    """The record worked out again from every payment's refunds; those already `listed` are not asked again."""
    listed = listed or {}
    refunds = [
        r
        for pi in row.payment_intent_ids
        for r in (
            listed[pi] if pi in listed else [r.to_dict() for r in stripe_gateway().list_refunds(payment_intent_id=pi)]
        )
    ]
    return records.refresh(row, refunds)


def _record(decision: Decision, listed: dict[str, list[dict[str, Any]]]) -> None:
    """A cancellation's refund: its record is worked out again from Stripe, and the customer is told once."""
    row = _cancellation_of(decision)
    if row is None:
        return
    try:
        row = _refresh_from_stripe(row, listed)
    except StripeGatewayError as exc:
        raise ExecutionError(f"refunded, but the record could not be read back: {exc}", retryable=True) from exc
    if row.status != CancellationRefundStatus.REFUNDED or not row.refunded_minor:
        return
    try:
        customer_email.send_once(row)
    except OSError as exc:  # the refund stands; only the email is retried
        raise ExecutionError(f"refunded, but the email to the customer was not sent: {exc}", retryable=True) from exc


@executes(DECLINE)
def decline(decision: Decision) -> dict[str, Any]:
    """A person rejected a refund: nothing moves; a cancellation's record says so (unless part was refunded)."""
    row = _cancellation_of(decision)
    if row is None:
        return {"declined": decision.booking_id}
    try:
        row = _refresh_from_stripe(row)
    except StripeGatewayError as exc:
        raise ExecutionError(str(exc), retryable=exc.retryable) from exc
    return {"declined": decision.booking_id, "cancellation_refund": row.pk, "status": row.status}
