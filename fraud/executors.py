"""The fraud actions, carried out once each: authorize only, capture, hold, release, cancel or block.

Each re-reads the PaymentIntent and the booking before it changes them (a
decision may run days after it was made), writes to Stripe with a key per
write of the decision, and notes what it did on the Checkfront booking.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import ActorType, Decision
from bookings.checkfront_client import CheckfrontClient
from bookings.models import CLOSED_STATUSES
from bookings.notes import write_note_once
from fraud import labels, workflow
from fraud.models import Assessment, FraudHold, HoldStatus, LabelSource
from payments import collection as payments
from payments.executors import outside_calls
from payments.models import PaymentCollection
from payops.executors import ExecutionError, executes
from payops.stripe_gateway import StripeGateway, StripeInvalidRequest, operation_key, stripe_gateway

logger = logging.getLogger(__name__)

_UNCAPTURED_CHANGEABLE = ("requires_payment_method", "requires_confirmation")


def _collection(decision: Decision) -> PaymentCollection:
    pi_id = str(decision.params.get("payment_intent_id") or "")
    found = PaymentCollection.objects.filter(payment_intent_id=pi_id).first() if pi_id else None
    if found is None:
        found = PaymentCollection.objects.filter(booking_code=decision.booking_id).order_by("-created_at").first()
    if found is None:
        raise ExecutionError(f"no payment collection for booking {decision.booking_id}")
    return found


def _note(decision: Decision, collection: PaymentCollection, what: str, body: str) -> bool:
    with outside_calls():
        return write_note_once(
            client=CheckfrontClient(),
            booking_code=collection.booking_code,
            key=operation_key(decision.idempotency_key, what),
            body=body,
        )


def _by(decision: Decision) -> str:
    return f" by {decision.actor.get_username()}" if decision.actor_type == ActorType.USER and decision.actor else ""


def _hold(decision: Decision) -> FraudHold | None:
    return FraudHold.objects.filter(booking_code=decision.booking_id).order_by("-created_at").first()


def _capture(gateway: StripeGateway, decision: Decision, pi_id: str) -> Any:
    """Capture all of the authorization, or the amount the reviewer set, under the decision's key."""
    amount = decision.params.get("amount_minor")
    with outside_calls():
        return gateway.capture_payment_intent(
            pi_id,
            idempotency_key=operation_key(decision.idempotency_key, "capture"),
            amount_minor=int(amount) if amount else None,
        )


def _label_if_judged(decision: Decision, pi_id: str, *, is_fraud: bool) -> None:
    """A person's release or rejection is a label; the system's own (a block, a deadline) is not."""
    if decision.actor_type == ActorType.USER:
        labels.record(
            booking_code=decision.booking_id,
            payment_intent_id=pi_id,
            is_fraud=is_fraud,
            source=LabelSource.REVIEW,
            source_id=str(decision.pk),
        )


def _resolve(hold: FraudHold | None, status: str, resolution: str) -> None:
    if hold is None or hold.status != HoldStatus.HELD:
        return
    hold.status, hold.resolution, hold.resolved_at = status, resolution, timezone.now()
    hold.save(update_fields=["status", "resolution", "resolved_at", "updated_at"])


# --- authorize only ---------------------------------------------------------------------------------------


@executes(workflow.AUTHORIZE_ONLY)
def authorize_only(decision: Decision) -> dict[str, Any]:
    """Collection reads this decision and asks for manual capture; a PaymentIntent made before it is switched."""
    collection = PaymentCollection.objects.filter(booking_code=decision.booking_id).order_by("-created_at").first()
    if collection is None or not collection.payment_intent_id:
        return {"manual_capture": "the payment request will be made to authorize only"}
    gateway = stripe_gateway()
    with outside_calls():
        intent = gateway.retrieve_payment_intent(collection.payment_intent_id)
        if intent.capture_method == "manual":
            return {"manual_capture": "already", "payment_intent_id": intent.id}
        if intent.status not in _UNCAPTURED_CHANGEABLE:
            return {"not_switched": f"{intent.id} is {intent.status}: the payment stage's score decides"}
        gateway.update_payment_intent(
            intent.id, idempotency_key=operation_key(decision.idempotency_key, "manual"), capture_method="manual"
        )
    return {"manual_capture": "switched", "payment_intent_id": intent.id}


# --- capture ----------------------------------------------------------------------------------------------


@executes(workflow.CAPTURE)
def capture(decision: Decision) -> dict[str, Any]:
    """Capture an authorization whose review window closed clean; anything new since sends it to a hold."""
    pi_id = str(decision.params["payment_intent_id"])
    collection = _collection(decision)
    gateway = stripe_gateway()
    with outside_calls():
        intent = gateway.retrieve_payment_intent(pi_id)
    if intent.status != "requires_capture":
        return {"skipped": f"{pi_id} is {intent.status}, not waiting for capture"}
    if workflow.is_held(decision.booking_id):
        return {"not_captured": "the booking is held for fraud review"}
    warning = labels.fraud_reported(pi_id)
    if warning:
        assessment = Assessment.objects.get(pk=decision.params["assessment_id"])
        held = workflow.hold_after_report(
            assessment=assessment,
            params=dict(decision.params),
            amount=int(decision.amount_minor or 0),
            currency=decision.currency,
            why=warning,
        )
        return {"not_captured": warning, "hold_decision": str(held.pk)}
    captured = _capture(gateway, decision, pi_id)
    paid = payments.money(int(captured.amount_received or 0), str(captured.currency))
    _note(
        decision,
        collection,
        "capture_note",
        f"Payment of {paid} captured{_by(decision)} after the fraud checks (score {decision.score or 0:.0f})",
    )
    return {"captured": pi_id, "amount_minor": captured.amount_received, "currency": captured.currency}


# --- hold -------------------------------------------------------------------------------------------------


@executes(workflow.HOLD)
def hold(decision: Decision) -> dict[str, Any]:
    """Keep the booking from confirmation in Checkfront and ask a person to decide.

    The review is asked for first: whatever happens to the Checkfront
    writes after it, the held booking is in front of a person.
    """
    held = _hold(decision)
    if held is None or held.status != HoldStatus.HELD:
        return {"skipped": "the hold was already resolved"}
    review = _ask_for_review(decision, held)
    collection = _collection(decision)
    client = CheckfrontClient()
    with outside_calls():
        status = str(client.booking(decision.booking_id).get("status_id", ""))
        if status in CLOSED_STATUSES:
            _resolve(held, HoldStatus.CANCELLED, f"the booking was already {status} in Checkfront")
            return {"skipped": f"booking is {status}", "review_decision": review}
        # PAID is confirmed already (paid at the desk, or by another link) and PART
        # keeps its deposit: both stay as they are, and the note says so.
        if status not in ("HOLD", "PAID", "PART"):
            client.update_booking_status(decision.booking_id, status_id="HOLD")
    if held.checkfront_held_at is None:
        held.checkfront_held_at = timezone.now()
        held.save(update_fields=["checkfront_held_at", "updated_at"])
    reasons = "; ".join(decision.reasons[:3])
    after = (
        "It is already confirmed in Checkfront: review it before the activity."
        if status == "PAID"
        else "Not confirmed until a person decides."
    )
    _note(
        decision,
        collection,
        "hold_note",
        f"Held for fraud review: score {decision.score or 0:.0f} ({reasons}). {after}",
    )
    return {"held": decision.booking_id, "checkfront_status_was": status, "review_decision": review}


def _ask_for_review(decision: Decision, held: FraudHold) -> str:
    """One review per hold, even when this executor runs again."""
    with transaction.atomic():
        existing = Decision.objects.filter(
            workflow=workflow.WORKFLOW, action=workflow.RELEASE, parent__isnull=True, booking_id=held.booking_code
        ).filter(created_at__gte=held.created_at)
        first = existing.first()
        if first is not None:
            return str(first.pk)
        params = {**decision.params, "amount_minor": decision.amount_minor, "currency": decision.currency}
        return str(workflow.propose_review(held, params=params).pk)


# --- release ----------------------------------------------------------------------------------------------


@executes(workflow.RELEASE)
def release(decision: Decision) -> dict[str, Any]:
    """The reviewer cleared the booking: capture (all, or the amount they set), then Checkfront confirms it."""
    held = _hold(decision)
    collection = _collection(decision)
    pi_id = collection.payment_intent_id
    gateway = stripe_gateway()
    with outside_calls():
        intent = gateway.retrieve_payment_intent(pi_id)
    if intent.status not in ("requires_capture", "succeeded"):
        raise ExecutionError(f"{pi_id} is {intent.status}: there is nothing to release")
    # The hold ends before the capture, so the confirmation the capture's
    # webhook proposes is not held back; it comes back if the capture fails.
    _resolve(held, HoldStatus.RELEASED, f"released{_by(decision)}")
    done = "captured"
    try:
        if intent.status == "requires_capture":
            _capture(gateway, decision, pi_id)
        else:
            # Taken before the hold: the confirmation it held back is proposed again.
            with transaction.atomic():
                payments.propose_confirmation(
                    payment=payments.SucceededPayment(
                        payment_intent_id=pi_id,
                        booking_code=collection.booking_code,
                        amount_minor=int(intent.amount_received or 0),
                        currency=str(intent.currency),
                    )
                )
            done = "confirmation proposed"
            if decision.params.get("amount_minor") not in (None, intent.amount_received):
                # The money was taken before the hold: a smaller amount is a refund, not a capture.
                done += "; the changed amount was not applied: refund the difference"
    except Exception:
        _reopen(held)
        raise
    _label_if_judged(decision, pi_id, is_fraud=False)
    _note(decision, collection, "release_note", f"Fraud review: released{_by(decision)}; the booking is confirmed")
    return {"released": decision.booking_id, "payment": done, "payment_intent_id": pi_id}


def _reopen(hold: FraudHold | None) -> None:
    """A release that could not capture leaves the booking held, for the person to see the failure and decide."""
    if hold is not None and hold.status == HoldStatus.RELEASED:
        hold.status, hold.resolution, hold.resolved_at = HoldStatus.HELD, "", None
        hold.save(update_fields=["status", "resolution", "resolved_at", "updated_at"])


# --- cancel (a reviewer's rejection) and block ----------------------------------------------------------------


@executes(workflow.CANCEL)
def cancel(decision: Decision) -> dict[str, Any]:
    return _undo(decision, why="rejected after fraud review")


@executes(workflow.BLOCK)
def block(decision: Decision) -> dict[str, Any]:
    return _undo(decision, why=f"blocked: fraud score {decision.score or 0:.0f}")


def _undo(decision: Decision, *, why: str) -> dict[str, Any]:
    """Release the authorization or refund what was taken, cancel the booking (its inventory is freed), note it."""
    held = _hold(decision)
    collection = _collection(decision)
    pi_id = collection.payment_intent_id
    gateway = stripe_gateway()
    done: dict[str, Any] = {"payment_intent_id": pi_id}
    with outside_calls():
        intent = gateway.retrieve_payment_intent(pi_id) if pi_id else None
        status = str(intent.status) if intent is not None else "none"
        if status in ("requires_capture", *_UNCAPTURED_CHANGEABLE, "requires_action"):
            try:
                gateway.cancel_payment_intent(
                    pi_id, idempotency_key=operation_key(decision.idempotency_key, "cancel"), reason="fraudulent"
                )
                done["authorization"] = "released"
            except StripeInvalidRequest:
                status = str(gateway.retrieve_payment_intent(pi_id).status)
        if status == "succeeded":
            refund = gateway.create_refund(
                idempotency_key=operation_key(decision.idempotency_key, "refund"),
                payment_intent_id=pi_id,
                reason="fraudulent",
                metadata={
                    "checkfront_booking_id": decision.booking_id,
                    "payops_decision_id": str(decision.pk),
                    # labels.on_refund reads this: a block's own refund is not evidence.
                    "payops_decided_by": "person" if decision.actor_type == ActorType.USER else "model",
                },
            )
            done["refund"] = refund.id
        client = CheckfrontClient()
        booking_status = str(client.booking(decision.booking_id).get("status_id", ""))
        if booking_status not in CLOSED_STATUSES:
            client.update_booking_status(decision.booking_id, status_id="STOP")
    _label_if_judged(decision, pi_id, is_fraud=True)
    _resolve(held, HoldStatus.CANCELLED, f"{why}{_by(decision)}")
    refunded = " and refunded" if "refund" in done else ""
    _note(decision, collection, "cancel_note", f"Booking cancelled{refunded}: {why}{_by(decision)}")
    return {**done, "booking": decision.booking_id, "checkfront_status": "STOP"}
