"""The fraud workflow's decisions: what each score leads to, through the gate, at each stage.

Receivers call these inside the sender's transaction (no network I/O); the
executors in executors.py carry the decisions out.

- Booking payable → scored on the booking alone. Low: proceeds. Elevated or
  above: the payment is authorized only (manual capture), a protective step.
- Payment authorized (manual capture) → scored again with the card and
  Stripe's outcome. Low: capture now. Elevated: capture when the review window
  closes clean, never past the authorization. High: hold the booking, a
  person releases or rejects. Very high, automate mode only: block.
- Payment taken (automatic capture) → scored the same way; high holds the
  booking before Checkfront confirms it, and a rejection refunds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import Decision, Route
from bookings.models import Booking
from fraud.facts import PaymentFacts, latest_checkout, payment_facts
from fraud.models import Assessment, Band, FraudHold, HoldStatus, PaymentSignal, SignalKind, Stage
from fraud.scoring import assess, fraud_policy
from payments.models import PaymentCollection
from payops.models import ReviewKind
from payops.policy_gate import Proposal, policy_for, route_for, submit_proposal

logger = logging.getLogger(__name__)

WORKFLOW = "fraud"
CLEAR = "fraud.clear"
AUTHORIZE_ONLY = "fraud.authorize_only"
CAPTURE = "fraud.capture"
HOLD = "fraud.hold"
RELEASE = "fraud.release"
CANCEL = "fraud.cancel"
BLOCK = "fraud.block"
AUTHORIZATION_DAYS = 7  # Stripe's card authorizations last 7 days when the charge does not say


def _money(amount_minor: int, currency: str) -> str:
    from payments.collection import money

    return money(amount_minor, currency)


def _proposal(assessment: Assessment, **fields: Any) -> Proposal:
    """What every fraud decision carries: the score, confidence, model version and reasons of its assessment."""
    fields.setdefault("params", {})
    fields["params"] = {"assessment_id": assessment.pk, **fields["params"]}
    return Proposal(
        workflow=WORKFLOW,
        score=assessment.score,
        confidence=assessment.confidence,
        model_version=assessment.model_version,
        reasons=list(assessment.reasons),
        booking_id=assessment.booking_code,
        **fields,
    )


def _link(assessment: Assessment, decision: Decision) -> Decision:
    assessment.decision = decision
    assessment.save(update_fields=["decision"])
    return decision


# --- velocity signals ---------------------------------------------------------------------------------


def record_signal(
    kind: str, *, booking: Booking, at: datetime, source_id: str = "", ip: str = "", device: str = "", card: str = ""
) -> None:
    """One row for the velocity counts; a replayed event finds its row and adds none."""
    if source_id and PaymentSignal.objects.filter(kind=kind, source_id=source_id).exists():
        return
    PaymentSignal.objects.create(
        kind=kind,
        at=at,
        booking_code=booking.code,
        email=(booking.customer_email or "").strip().lower(),
        ip=ip or booking.source_ip or None,
        device=device,
        card_fingerprint=card,
        source_id=source_id,
    )


def record_checkout(*, booking_code: str, ip: str, device: str) -> None:
    """The customer opened the pay page: where from and on what device (a hash), for velocity and geolocation.

    Once per booking, address and device: reloading the page adds nothing.
    """
    booking = Booking.objects.filter(code=booking_code).first()
    if booking is not None:
        source = "checkout:" + hashlib.sha256(f"{booking_code}|{ip}|{device}".encode()).hexdigest()[:40]
        record_signal(SignalKind.CHECKOUT, booking=booking, at=timezone.now(), ip=ip, device=device, source_id=source)


def record_failure(*, booking_code: str, payment: PaymentFacts, at: datetime, source_id: str) -> None:
    booking = Booking.objects.filter(code=booking_code).first()
    if booking is None:
        return
    checkout = latest_checkout(booking_code)
    record_signal(
        SignalKind.FAILED,
        booking=booking,
        at=at,
        source_id=source_id,
        ip=checkout["ip"],
        device=checkout["device"],
        card=payment.card_fingerprint,
    )


# --- stage 1: the booking becomes payable ----------------------------------------------------------------


def screen_booking(*, booking: Booking, now: datetime | None = None) -> Decision | None:
    """Score a booking before anyone pays; elevated or above → the payment will be authorized only."""
    now = now or timezone.now()
    if booking.start_at is not None and booking.start_at <= now:
        return None  # under way or over: no pay link goes out, so nothing to screen (as in payment collection)
    if Assessment.objects.filter(booking_code=booking.code, stage=Stage.BOOKING).exists():
        return None  # scored already; a replay or an amount change is scored again at payment
    record_signal(SignalKind.BOOKING, booking=booking, at=now, source_id=f"booking:{booking.code}")
    assessment = assess(booking, stage=Stage.BOOKING, at=now)
    amount, currency = booking.due_minor, booking.currency.lower()
    if assessment.score < fraud_policy().authorize_from:
        proposal = _proposal(
            assessment,
            action=CLEAR,
            reason=f"Booking {booking.code} scored {assessment.score:.0f} for fraud: it proceeds normally",
            record_only=True,
            moves_money=False,
        )
    else:
        proposal = _proposal(
            assessment,
            action=AUTHORIZE_ONLY,
            reason=f"Booking {booking.code} scored {assessment.score:.0f} before payment: authorize the "
            f"{_money(amount, currency)} only, and capture once the payment's own score allows",
            protective=True,
            moves_money=False,
            amount_minor=max(amount, 0),
            currency=currency,
        )
    return _link(assessment, submit_proposal(proposal))


def manual_capture_wanted(booking_code: str) -> bool:
    """Whether payment collection should authorize only: the fraud workflow decided so for this booking."""
    return Decision.objects.filter(
        workflow=WORKFLOW, action=AUTHORIZE_ONLY, booking_id=booking_code, route=Route.EXECUTE
    ).exists()


# --- stage 2: the payment is authorized, or taken ----------------------------------------------------------


def _charge_of(intent: dict[str, Any]) -> dict[str, Any]:
    """The PaymentIntent's latest charge from the mirror (the inbox synced it before signalling)."""
    from djstripe.models import Charge

    latest = intent.get("latest_charge")
    if isinstance(latest, dict):
        return latest
    row = Charge.objects.filter(id=str(latest or "")).first() if latest else None
    return dict(row.stripe_data) if row is not None else {}


def capture_deadline(charge: dict[str, Any], *, now: datetime) -> datetime:
    """When the authorization ends: the card's capture_before, else 7 days after the charge."""
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    if card.get("capture_before"):
        return datetime.fromtimestamp(int(card["capture_before"]), tz=UTC)
    if charge.get("created"):
        return datetime.fromtimestamp(int(charge["created"]), tz=UTC) + timedelta(days=AUTHORIZATION_DAYS)
    return now + timedelta(days=AUTHORIZATION_DAYS)


def screen_payment(*, intent: dict[str, Any], captured: bool, now: datetime | None = None) -> Decision | None:
    """Score a payment of one of our collections with its card and Stripe's outcome, and decide what follows."""
    now = now or timezone.now()
    pi_id = str(intent.get("id") or "")
    collection = PaymentCollection.objects.filter(payment_intent_id=pi_id).first()
    if collection is None:
        return None  # not a booking payment PayOps asked for
    booking = Booking.objects.filter(code=collection.booking_code).first()
    if booking is None:
        logger.warning("payment %s names booking %s, not in the mirror", pi_id, collection.booking_code)
        return None
    if Assessment.objects.filter(payment_intent_id=pi_id, stage=Stage.PAYMENT).exists():
        return None  # a replayed event, or the success that follows our own capture
    charge = _charge_of(intent)
    payment = payment_facts(intent, charge)
    checkout = latest_checkout(booking.code)
    record_signal(
        SignalKind.SUCCEEDED,
        booking=booking,
        at=now,
        source_id=payment.charge_id,
        ip=checkout["ip"],
        device=checkout["device"],
        card=payment.card_fingerprint,
    )
    assessment = assess(booking, stage=Stage.PAYMENT, at=now, payment=payment)
    amount = int(intent.get("amount_received") or 0) if captured else int(intent.get("amount_capturable") or 0)
    amount = amount or int(intent.get("amount") or 0)
    currency = str(intent.get("currency") or booking.currency).lower()
    facts = _Payment(pi_id, payment.charge_id, amount, currency, captured, capture_deadline(charge, now=now))
    if assessment.band == Band.BLOCK:
        blocked = _block_if_automated(assessment, facts)
        if blocked is not None:
            return blocked
    if assessment.band in (Band.HIGH, Band.BLOCK):
        return _link(assessment, _propose_hold(assessment, facts))
    if captured:
        return _link(
            assessment,
            submit_proposal(
                _proposal(
                    assessment,
                    action=CLEAR,
                    reason=f"The payment for booking {booking.code} scored {assessment.score:.0f}: it proceeds",
                    record_only=True,
                    moves_money=False,
                    stripe_ids=[i for i in (pi_id, payment.charge_id) if i],
                )
            ),
        )
    return _propose_capture(assessment, facts, now=now)


@dataclass(frozen=True)
class _Payment:
    """The payment a fraud decision is about."""

    pi_id: str
    charge_id: str
    amount: int
    currency: str
    captured: bool
    deadline: datetime

    @property
    def stripe_ids(self) -> list[str]:
        return [i for i in (self.pi_id, self.charge_id) if i]

    def params(self) -> dict[str, Any]:
        return {
            "payment_intent_id": self.pi_id,
            "charge_id": self.charge_id,
            "captured": self.captured,
            "capture_before": self.deadline.isoformat(),
        }


def _propose_capture(assessment: Assessment, payment: _Payment, *, now: datetime) -> Decision:
    policy = fraud_policy()
    latest = payment.deadline - timedelta(hours=policy.capture_margin_hours)
    if assessment.band == Band.ELEVATED:
        at = min(now + timedelta(hours=policy.review_window_hours), latest)
        reason = (
            f"The payment for booking {assessment.booking_code} scored {assessment.score:.0f} (elevated): "
            f"capture {_money(payment.amount, payment.currency)} at {at:%Y-%m-%d %H:%M} UTC if nothing new comes up"
        )
    else:
        at = now
        reason = (
            f"The payment for booking {assessment.booking_code} scored {assessment.score:.0f} with the card's "
            f"details: capture {_money(payment.amount, payment.currency)}"
        )
    proposal = _proposal(
        assessment,
        action=CAPTURE,
        reason=reason,
        review_kind=ReviewKind.FRAUD_HOLD,
        params=payment.params(),
        stripe_ids=payment.stripe_ids,
        amount_minor=payment.amount,
        currency=payment.currency,
        due_by=latest,
        not_before=at if at > now else None,
    )
    return _link(assessment, submit_proposal(proposal))


def _open_hold(assessment: Assessment, decision: Decision, payment: _Payment) -> None:
    """Written with the decision, so no confirmation slips through while it is carried out."""
    if decision.route == Route.LOG:
        return
    if FraudHold.objects.filter(booking_code=assessment.booking_code, status=HoldStatus.HELD).exists():
        return
    FraudHold.objects.create(
        booking_code=assessment.booking_code,
        payment_intent_id=payment.pi_id,
        assessment=assessment,
        decision=decision,
    )


def _propose_hold(assessment: Assessment, payment: _Payment, *, why: str = "") -> Decision:
    """Hold the booking for a person: for its score, or (`why`) for what came up before the capture."""
    if why:
        reason = f"Booking {assessment.booking_code} was about to be captured, but it was {why}: hold it for review"
    else:
        taken = "taken" if payment.captured else "authorized, not captured"
        reason = (
            f"Booking {assessment.booking_code} scored {assessment.score:.0f} ({assessment.band}) with "
            f"{_money(payment.amount, payment.currency)} {taken}: hold it in Checkfront for a person to review"
        )
    proposal = _proposal(
        assessment,
        action=HOLD,
        reason=reason,
        params=payment.params(),
        stripe_ids=payment.stripe_ids,
        amount_minor=payment.amount,
        currency=payment.currency,
        protective=True,
        moves_money=False,
    )
    if why:
        proposal = replace(proposal, reasons=[why, *proposal.reasons][:4])
    decision = submit_proposal(proposal)
    _open_hold(assessment, decision, payment)
    return decision


def _block_if_automated(assessment: Assessment, payment: _Payment) -> Decision | None:
    """Block without a person, only where the gate would carry it out (automate mode, within its limits).

    Anything else is held for a person instead: a block waiting in the queue
    would hold nothing in Checkfront, and "approve" would cancel the booking.
    """
    undo = "refund" if payment.captured else "cancel the authorization of"
    proposal = _proposal(
        assessment,
        action=BLOCK,
        reason=f"Booking {assessment.booking_code} scored {assessment.score:.0f} (very high): block it: "
        f"{undo} {_money(payment.amount, payment.currency)} and cancel the booking",
        params=payment.params(),
        stripe_ids=payment.stripe_ids,
        amount_minor=payment.amount,
        currency=payment.currency,
        # The gate weighs the risk of blocking a good customer, not the fraud score.
        action_risk=max(0.0, 100.0 - assessment.score),
        moves_money=payment.captured,
    )
    if route_for(policy_for(WORKFLOW), proposal)[0] != Route.EXECUTE:
        return None
    decision = submit_proposal(proposal)
    _open_hold(assessment, decision, payment)
    return _link(assessment, decision)


def propose_review(hold: FraudHold, *, params: dict[str, Any]) -> Decision:
    """After the hold: a person releases (capture and confirm) or rejects (cancel, release inventory, refund)."""
    assessment = hold.assessment
    amount = int(params.get("amount_minor") or 0)
    currency = str(params.get("currency") or "")
    proposal = _proposal(
        assessment,
        action=RELEASE,
        reason=f"Booking {hold.booking_code} is held for fraud review (score {assessment.score:.0f}): "
        f"release it to capture and confirm, or reject it to cancel and refund",
        review_kind=ReviewKind.FRAUD_HOLD,
        params={k: v for k, v in params.items() if k != "assessment_id"},
        stripe_ids=[i for i in (params.get("payment_intent_id"), params.get("charge_id")) if i],
        amount_minor=amount or None,
        currency=currency if amount else "",
        requires_person=True,
        due_by=_review_due(params),
    )
    return submit_proposal(replace(proposal, moves_money=not params.get("captured", False)))


def _review_due(params: dict[str, Any]) -> datetime | None:
    if params.get("captured") or not params.get("capture_before"):
        return None
    return _parse_deadline(params) - timedelta(hours=fraud_policy().capture_margin_hours)


def is_held(booking_code: str) -> bool:
    return FraudHold.objects.filter(booking_code=booking_code, status=HoldStatus.HELD).exists()


def hold_after_report(
    *, assessment: Assessment, params: dict[str, Any], amount: int, currency: str, why: str
) -> Decision:
    """Something came up before capture (an early fraud warning, a dispute): hold the booking for a person instead."""
    deadline = _parse_deadline(params)
    payment = _Payment(
        pi_id=str(params.get("payment_intent_id") or ""),
        charge_id=str(params.get("charge_id") or ""),
        amount=amount,
        currency=currency,
        captured=bool(params.get("captured")),
        deadline=deadline,
    )
    with transaction.atomic():
        return _propose_hold(assessment, payment, why=why)


def _parse_deadline(params: dict[str, Any]) -> datetime:
    from django.utils.dateparse import parse_datetime

    return parse_datetime(str(params.get("capture_before") or "")) or timezone.now() + timedelta(
        days=AUTHORIZATION_DAYS
    )


def capture_change_fits(item: Any, changes: Mapping[str, Any]) -> None:
    """A smaller capture only while nothing is captured: once the money is taken, a smaller amount means a refund."""
    if "amount_minor" in changes and item.params.get("captured"):
        raise ValueError("the payment is captured already: approve it as it is and refund the difference")
